"""The roles of the register's users, as Django groups (created by migration 0012).

- **Registrator**: registers incoming documents, edits, voids and links every record.
- **Handläggare** (case officer): reads everything, edits the cases they own and adds
  documents and activities to them.
- **Läsare** (reader): reads, changes nothing.
- **Sekretessbehörig**: sees the protected details of confidential cases and documents;
  given on top of one of the roles above.

``sync_roles`` sets each group's permissions to exactly these, so a later migration can call
it again after the permissions change.
"""

from django.contrib.auth.management import create_permissions

APP = "cases"
# Derived or operational tables that no role edits (the search index, the audit trail,
# source passages come from the fixtures, API tokens are the administrators').
NOT_EDITED = {"searchentry", "searchword", "auditentry", "provenance", "apitoken"}
NOT_READ = {"searchentry", "searchword", "apitoken"}
CASE_OFFICER_ADDS = {"document", "documentsignatory", "documentattachment", "activity"}

REGISTRAR, CASE_OFFICER, READER, CLEARED = "Registrator", "Handläggare", "Läsare", \
    "Sekretessbehörig"


EDIT_ANY_CASE, EDIT_OWN_CASES = "cases.change_case", "cases.change_own_case"


def own_cases_only(user) -> bool:
    """Whether ``user`` may write only to the cases they own and those cases' records (the
    case officer's rule), in the admin and the API alike."""
    return user.has_perm(EDIT_OWN_CASES) and not user.has_perm(EDIT_ANY_CASE)


def role_permissions(models: list[str]) -> dict[str, set[str]]:
    """Group name → codenames of the ``cases`` permissions it holds."""
    read = {f"view_{m}" for m in models if m not in NOT_READ}
    edited = [m for m in models if m not in NOT_EDITED]
    return {
        READER: read,
        CASE_OFFICER: read | {"change_own_case"}
        | {f"{action}_{m}" for m in CASE_OFFICER_ADDS for action in ("add", "change")},
        REGISTRAR: read | {"register_incoming", "void_record"}
        | {f"{action}_{m}" for m in edited for action in ("add", "change")},
        CLEARED: {"view_confidential"},
    }


def sync_roles(apps) -> None:
    """Create the role groups (or reset their permissions) with ``apps``' models."""
    app_config = apps.get_app_config(APP)
    # Permissions are normally created after migrating; the groups need them now.
    # (Migration states leave ``models_module`` empty, which create_permissions skips.)
    for config in apps.get_app_configs():
        original = getattr(config, "models_module", None)
        config.models_module = original or True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = original
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    models = [model._meta.model_name for model in app_config.get_models()]
    for name, codenames in role_permissions(models).items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = Permission.objects.filter(content_type__app_label=APP,
                                                codename__in=codenames)
        missing = codenames - set(permissions.values_list("codename", flat=True))
        if missing:
            raise LookupError(f"{name}: no such permissions {sorted(missing)}")
        group.permissions.set(permissions)
