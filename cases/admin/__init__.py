"""Admin for every model of the register, in Swedish (English selectable)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import (  # noqa: F401  (registers models)
    access,
    cases,
    collaboration,
    organisations,
    sources,
    webhooks,
)
from .base import autocomplete_view
from .start import grouped

# Autocomplete answers name confidential records by their public titles.
admin.site.autocomplete_view = autocomplete_view(admin.site)

admin.site.site_header = _("Case register")
admin.site.site_title = _("Case register")
admin.site.index_title = _("Register administration")
grouped(admin.site)
# No side menu: on a 1,366 px screen it took 300 px from every list and form; the start page
# (grouped, one click from every page's header) is the way between the registers.
admin.site.enable_nav_sidebar = False
admin.site.site_url = None  # no "View site": the admin is the site for people (/ leads here)
