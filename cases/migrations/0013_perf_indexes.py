from django.db import migrations

# (name, key columns) of the case indexes that lists and sync walks read in page order. The
# filter columns the keyset pages test beyond the key (modified for modified_since/until,
# voided_at for tombstones and plain lists) are carried in the index, so the ids of a page are
# found by an index-only scan that skips non-matching cases without reading the table; the
# page's rows are then fetched by primary key (see cases.api.pagination).
INDEXES = [
    ("cases_case_org_status_ckey", "responsible_organisation_id, status, created, id"),
    ("cases_case_ckey", "created, id"),
]
CARRIED = "modified, voided_at"


# The bounded count of a filtered case list needs no order: with the date range in the key it
# is one short range scan instead of a walk past the organisation's older cases.
COUNT_INDEX = ("cases_case_org_status_mkey", "responsible_organisation_id, status, modified")


def statements(covering: bool) -> list[str]:
    sql = []
    for name, columns in INDEXES:
        include = f" INCLUDE ({CARRIED})" if covering else ""
        sql += [f"DROP INDEX {name}", f"CREATE INDEX {name} ON cases_case ({columns}){include}"]
    name, columns = COUNT_INDEX
    sql.append(f"CREATE INDEX {name} ON cases_case ({columns})" if covering
               else f"DROP INDEX {name}")
    return sql


class Migration(migrations.Migration):
    """Case list and sync indexes that also carry the date filters (covering indexes), and
    one for counting a filtered case list."""

    dependencies = [("cases", "0012_roles")]
    operations = [migrations.RunSQL(sql=statements(True), reverse_sql=statements(False))]
