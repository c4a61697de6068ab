from django.contrib.postgres.operations import TrigramExtension, UnaccentExtension
from django.db import migrations


class Migration(migrations.Migration):
    """PostgreSQL extensions for diacritic-insensitive and typo-tolerant search."""

    initial = True
    dependencies = []
    operations = [UnaccentExtension(), TrigramExtension()]
