from django.db import migrations

# The collections of the API: their pages are cut by (created, id) or (modified, id).
TABLES = ["municipality", "organisation", "party", "person", "case", "document", "motion",
          "referral", "referralresponse", "decision", "collaborationmodel", "activity", "link"]


def statements(create: bool) -> list[str]:
    sql = []
    for table in TABLES:
        for column in ("created", "modified"):
            name = f"cases_{table}_{column[0]}key"
            sql.append(f"CREATE INDEX {name} ON cases_{table} ({column}, id)" if create
                       else f"DROP INDEX {name}")
    return sql


class Migration(migrations.Migration):
    """Indexes for keyset pagination: a page is one range scan at any depth of a walk."""

    dependencies = [("cases", "0009_search_lexicon")]
    operations = [migrations.RunSQL(sql=statements(True), reverse_sql=statements(False))]
