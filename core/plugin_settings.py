"""Plugin settings: typed in the manifest, validated with the same field kinds as record
fields, stored in the plugin's state row and read by its hooks through
:func:`accord.core.plugin_settings`."""

from marshmallow import ValidationError

from .descriptors import Choice, Field
from .errors import RecordInvalid


def setting_field(setting):
    return Field(name=setting.name, kind=setting.kind, label=setting.label, required=setting.required,
                 choices=tuple(Choice(key, key) for key in setting.choices), help=setting.help)


def settings_of(manifest, stored):
    """The plugin's settings: each default, overridden by what was stored."""
    values = {name: setting.default for name, setting in manifest.settings.items()}
    values.update({name: value for name, value in (stored or {}).items() if name in manifest.settings})
    return values


def validate_settings(manifest, changes):
    """Check ``changes`` (JSON values by setting name); return them in stored (JSON) form or
    raise :class:`RecordInvalid` naming each bad setting and why."""
    if not isinstance(changes, dict):
        raise RecordInvalid({"settings": ["Send an object of setting names and values."]})
    errors = {}
    clean = {}
    for name, value in changes.items():
        setting = manifest.settings.get(name)
        if setting is None:
            known = ", ".join(sorted(manifest.settings)) or "none"
            errors[name] = [f"{manifest.name} has no setting {name!r} (its settings: {known})."]
            continue
        try:
            clean[name] = check_setting(setting, value)
        except ValidationError as exc:
            errors[name] = exc.messages if isinstance(exc.messages, list) else [str(exc.messages)]
    if errors:
        raise RecordInvalid(errors, message=f"The settings of {manifest.name} are not valid.")
    return clean


def check_setting(setting, value):
    """``value`` validated for ``setting``, in JSON form; raises ``ValidationError``."""
    f = setting_field(setting)
    if value is None:
        if setting.required:
            raise ValidationError("This setting is required.")
        return None
    loaded = f.kind_impl.marshmallow_field(f, required=setting.required, allow_none=not setting.required).deserialize(value)
    if setting.min is not None and loaded < setting.min:
        raise ValidationError(f"Must be at least {setting.min}.")
    if setting.max is not None and loaded > setting.max:
        raise ValidationError(f"Must be at most {setting.max}.")
    return f.kind_impl.to_json(loaded)
