"""The horizontal kernel of Accord and its public API.

Plugins import from here and nowhere deeper: what is listed in ``__all__`` is the
promise; everything else may change.
"""

from .app import create_app
from .db import IdType, JsonType, UTCDateTime, db
from .descriptors import Choice, Field, RecordType, RecordTypeOptions, Relation, record_field
from .errors import (
    AccordError, BadRequest, Conflict, Forbidden, NotFound, PreconditionFailed, RecordInvalid,
)
from .hookspecs import HOOK_CONTRACT_VERSION, hookimpl
from .models import RecordColumns, live_indexes
from .records import SYSTEM, Actor, Record
from .lifecycle import plugin_files
from .permissions import readable_rows
from .privacy import erase_contact, export_contact
from .registry import current_accord, plugin_settings

__all__ = [
    "create_app", "db", "hookimpl", "HOOK_CONTRACT_VERSION", "current_accord", "plugin_settings", "plugin_files",
    "Record", "Actor", "SYSTEM", "RecordType", "RecordTypeOptions", "Relation", "Field", "Choice",
    "record_field", "RecordColumns", "live_indexes", "IdType", "JsonType", "UTCDateTime",
    "AccordError", "BadRequest", "Conflict", "Forbidden", "NotFound", "PreconditionFailed", "RecordInvalid",
    "export_contact", "erase_contact", "readable_rows",
]
