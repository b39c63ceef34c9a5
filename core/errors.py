"""Errors the service layer raises; the API turns each into its documented JSON answer."""


class AccordError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message, fields=None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def to_json(self):
        body = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return {"error": body}


class BadRequest(AccordError):
    status = 400
    code = "bad_request"


class Unauthorized(AccordError):
    status = 401
    code = "unauthorized"


class Forbidden(AccordError):
    status = 403
    code = "forbidden"


class NotFound(AccordError):
    status = 404
    code = "not_found"


class Conflict(AccordError):
    status = 409
    code = "conflict"


class PreconditionFailed(AccordError):
    status = 412
    code = "precondition_failed"


class RecordInvalid(AccordError):
    """A write refused because of its values; ``fields`` maps each field to its reasons."""

    status = 422
    code = "validation_failed"

    def __init__(self, fields, message="The record is not valid."):
        super().__init__(message, {name: _as_list(reasons) for name, reasons in fields.items()})


class HookFailed(AccordError):
    """A plugin's hook raised something other than :class:`RecordInvalid`; nothing was written."""

    code = "hook_failed"


def _as_list(reasons):
    if isinstance(reasons, (list, tuple)):
        return [str(r) if not isinstance(r, (dict, list)) else r for r in reasons]
    if isinstance(reasons, dict):
        return [reasons]
    return [str(reasons)]
