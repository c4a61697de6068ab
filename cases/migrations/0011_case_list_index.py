from django.db import migrations


class Migration(migrations.Migration):
    """The case list as integrating systems filter it (an organisation's cases in a status),
    in page order: one index range scan instead of a sort of every matching case."""

    dependencies = [("cases", "0010_keyset_indexes")]
    operations = [migrations.RunSQL(
        sql="CREATE INDEX cases_case_org_status_ckey ON cases_case "
            "(responsible_organisation_id, status, created, id)",
        reverse_sql="DROP INDEX cases_case_org_status_ckey",
    )]
