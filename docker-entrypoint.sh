#!/bin/sh
# Migrate and load the seed register before the server starts; both are idempotent.
set -e
python manage.py migrate --noinput
python manage.py load_register
exec "$@"
