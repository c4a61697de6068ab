"""Template tags of the register's admin."""

import calendar
import datetime

from django import template
from django.contrib.admin.utils import get_fields_from_path
from django.db import models
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

register = template.Library()


@register.inclusion_tag("admin/date_hierarchy.html")
def bounded_date_hierarchy(cl):
    """Django's date drill-down (``admin_list.date_hierarchy``, same links and template)
    with its choices taken from the first and last date in the table: two index lookups.
    Django's finds the years, months or days that occur with a DISTINCT over every row of
    the list (issue 14: the audit trail and the events grow by every change). Every year,
    month or day between the two is offered, one without records included, as the year
    filters of the case and document lists do (cases.admin.filters)."""
    field_name = cl.date_hierarchy
    field = get_fields_from_path(cl.model, field_name)[-1]
    fields = {part: f"{field_name}__{part}" for part in ("year", "month", "day")}
    try:
        year, month, day = (int(cl.params[fields[part]]) if cl.params.get(fields[part])
                            else None for part in ("year", "month", "day"))
    except (TypeError, ValueError):
        return {"show": False}
    bounds = field.model._default_manager.aggregate(first=models.Min(field.name),
                                                    last=models.Max(field.name))
    if bounds["first"] is None:
        return {"show": False}
    first, last = (timezone.localdate(v) if isinstance(v, datetime.datetime) else v
                   for v in (bounds["first"], bounds["last"]))

    def link(**values):
        return cl.get_query_string({fields[k]: v for k, v in values.items()},
                                   [f"{field_name}__"])

    if year and month and day:
        when = datetime.date(year, month, day)
        return {"show": True,
                "back": {"link": link(year=year, month=month),
                         "title": capfirst(formats.date_format(when, "YEAR_MONTH_FORMAT"))},
                "choices": [{"title": capfirst(formats.date_format(when,
                                                                   "MONTH_DAY_FORMAT"))}]}
    if year and month:
        days = [datetime.date(year, month, d)
                for d in range(1, calendar.monthrange(year, month)[1] + 1)]
        return {"show": True, "back": {"link": link(year=year), "title": str(year)},
                "choices": [{"link": link(year=year, month=month, day=d.day),
                             "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT"))}
                            for d in days if first <= d <= last]}
    if year:
        months = [datetime.date(year, m, 1) for m in range(1, 13)]
        return {"show": True, "back": {"link": link(), "title": _("All dates")},
                "choices": [{"link": link(year=year, month=d.month),
                             "title": capfirst(formats.date_format(d, "YEAR_MONTH_FORMAT"))}
                            for d in months if first.replace(day=1) <= d <= last]}
    return {"show": True, "back": None,
            "choices": [{"link": link(year=y), "title": str(y)}
                        for y in range(first.year, last.year + 1)]}


# Who made a change, in the page's language: the audit trail stores the actor's label and
# channel as written by the code (cases.context, cases.services.fixtures).
ACTORS = {"loader": lambda: _("loading of the source documents"), "system": lambda: _("system"),
          "anonymous": lambda: _("anonymous")}
CHANNELS = {"api": lambda: _("API"), "admin": lambda: _("admin"), "command": lambda: _("command"),
            "void": lambda: _("voiding")}


@register.filter
def audit_actor(entry) -> str:
    """"anna (admin)", "client system Ärendesystem (API)", "loading of the source
    documents": who made an audit entry's change, and through which channel."""
    actor, via = entry.actor, entry.via
    if actor in ACTORS:
        who = ACTORS[actor]()
    elif actor.startswith("token:"):
        who = _("client system %(name)s") % {"name": actor.removeprefix("token:")}
    else:
        who = actor
    channel = CHANNELS.get(via)
    return f"{who} ({channel()})" if channel and actor not in ACTORS else who
