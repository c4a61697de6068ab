"""The start page (and the admin's side menu): the registers in groups by what a registrar
does, not the 35 models in one alphabetical list. The parts of a record (its signatories,
proposals, consulted bodies ...) are not listed: they are edited on their record's page and
reached from it; their own lists still answer at their addresses."""

from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

GROUPS = [
    ("registers", _("Registers"), ["case", "document", "motion", "referral",
                                    "referralresponse", "decision", "activity",
                                    "collaborationmodel", "registrationnumber", "link"]),
    ("people", _("Organisations and people"), ["organisation", "person", "municipality",
                                               "party", "personrole", "partyaffiliation"]),
    ("system", _("System"), ["auditentry", "user", "group", "apitoken", "subscription",
                             "event", "delivery", "provenance", "procrastinatejob"]),
]
# Reached from the record they belong to.
PARTS = {"documentsignatory", "documentattachment", "motionauthor", "motionproposal",
         "consultedbody", "decisionpoint", "collaborationsector", "collaborationusage",
         "collaborationfigure", "personnamevariant", "deliveryattempt"}
# Names of other apps' models, in the page's language.
NAMES = {"procrastinatejob": _("background jobs")}


def grouped(site):
    """Make ``site`` list its models in ``GROUPS`` on the start page and in the side menu
    (an app's own page, /admin/cases/, keeps Django's list). A model in no group and not a
    part is listed under System, so none is ever lost from the page."""
    app_list = site.get_app_list

    def get_app_list(request, app_label=None):
        apps = app_list(request, app_label)
        if app_label is not None:
            return apps
        entries = {entry["model"]._meta.model_name: entry
                   for app in apps for entry in app["models"]}
        placed = PARTS | {name for _slug, _title, names in GROUPS for name in names}
        groups = []
        for slug, title, names in GROUPS:
            rows = [entries[name] for name in names if name in entries]
            if slug == "system":
                rows += [entry for name, entry in entries.items() if name not in placed]
            for row in rows:
                name = NAMES.get(row["model"]._meta.model_name)
                if name:
                    row["name"] = capfirst(name)
            if rows:
                groups.append({"name": title, "app_label": slug, "app_url": "",
                               "has_module_perms": True, "models": rows})
        return groups

    site.get_app_list = get_app_list
