"""``GET /api/v1/contacts/<id>/privacy-export``: everything held about a person, and
``POST /api/v1/contacts/<id>/erase``: their personal data erased (administrators only;
see :mod:`accord.core.privacy`). Both answer for a contact in the trash too."""

from .. import privacy
from ..errors import Forbidden
from . import api, current_actor, json_response


def _require_admin():
    if not current_actor().is_admin:
        raise Forbidden("Only administrators export or erase a person's data.")


@api.get("/contacts/<int:contact_id>/privacy-export")
def privacy_export(contact_id):
    _require_admin()
    return json_response(privacy.export_contact(contact_id, current_actor()))


@api.post("/contacts/<int:contact_id>/erase")
def privacy_erase(contact_id):
    _require_admin()
    return json_response({"contact_id": contact_id, "erased": privacy.erase_contact(contact_id, current_actor())})
