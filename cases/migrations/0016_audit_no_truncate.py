from django.db import migrations

# The audit trail's trigger also refuses TRUNCATE (a statement-level trigger: TRUNCATE fires
# no row triggers), for every role, the owner included. The runtime role is refused before
# the trigger by its missing privileges (caseregister.db_roles); together they leave no way
# to change or remove an audit row short of the owner dropping the trigger on purpose.
FUNCTION = """
    CREATE OR REPLACE FUNCTION cases_audit_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit entries cannot be changed or deleted (% refused)', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$ LANGUAGE plpgsql;
"""
OLD_FUNCTION = """
    CREATE OR REPLACE FUNCTION cases_audit_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'audit entries cannot be changed or deleted';
    END $$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):

    dependencies = [('cases', '0014_marked_public')]

    operations = [
        migrations.RunSQL(
            sql=FUNCTION + """
                CREATE TRIGGER cases_auditentry_no_truncate
                    BEFORE TRUNCATE ON cases_auditentry
                    FOR EACH STATEMENT EXECUTE FUNCTION cases_audit_append_only();
            """,
            reverse_sql="DROP TRIGGER cases_auditentry_no_truncate ON cases_auditentry;"
                        + OLD_FUNCTION,
        ),
    ]
