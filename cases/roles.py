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

from collections.abc import Mapping

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


def case_path(model, _seen=frozenset()) -> tuple[str, ...] | None:
    """The foreign keys leading from a record of ``model`` to the case it belongs to: ``()``
    for a case, ``("case",)`` for an activity, ``("document", "case")`` for a signatory,
    ``("referral", "case")`` for a referral response; None for records of no case (people,
    organisations ...).

    Found from the models, not listed by hand, so that a new part of a case is under the case
    officer's rule without anyone remembering to add it. Only required keys count (a part
    cannot exist without its parent); a field named ``case`` wins over a longer way round."""
    from cases.models import Case

    if model is Case:
        return ()
    parents = [f for f in model._meta.concrete_fields if f.many_to_one and not f.null]
    for field in sorted(parents, key=lambda f: f.related_model is not Case):
        if field.related_model is Case:
            return (field.name,)
        if field.related_model in _seen or field.related_model is model:
            continue
        rest = case_path(field.related_model, _seen | {model})
        if rest:
            return (field.name, *rest)
    return None


_UNSET = object()


def case_of(model, record):
    """The case that ``record`` (a ``model`` instance, or a mapping of field values such as a
    write's validated data) belongs to; ``_UNSET`` when the mapping does not name its parent
    (a PATCH that does not move the record), None when it names none."""
    path = case_path(model)
    if not path:
        return record if path == () and not isinstance(record, Mapping) else _UNSET
    first, *rest = path
    if isinstance(record, Mapping):
        if first not in record:
            return _UNSET
        value = record[first]
    else:
        value = getattr(record, first, None)
    for name in rest:
        value = getattr(value, name, None) if value is not None else None
    return value


def may_write(user, model, before=None, after=None) -> bool:
    """The case officer's rule, the one place where the admin and the API ask it: a user who
    may edit only the cases they own may create or change a record of a case only when the
    case it is in (``before``: the record as stored; None when creating) and the case it will
    be in (``after``: the record as it will be saved, or the values written, e.g. a PATCH's)
    are both theirs. Moving a record (or a part, through its parent) out of their case or
    into someone else's is refused at both ends. Records of no case, and users not under the
    rule, are left to their model permissions."""
    if not own_cases_only(user):
        return True
    path = case_path(model)
    if path is None:
        return True
    if path == ():  # a case: its owner edits it; assigning cases is the registrars' work
        return before is not None and before.owner_id == user.pk
    cases = []
    if before is not None:
        cases.append(case_of(model, before))
    if after is not None:
        cases.append(case_of(model, after))
    if before is None:
        cases = [None if case is _UNSET else case for case in cases] or [None]
    return all(case is _UNSET or (case is not None and case.owner_id == user.pk)
               for case in cases)


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
