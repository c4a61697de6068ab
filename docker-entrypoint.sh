#!/bin/sh
# The web container only serves: it never changes the schema nor loads demo data by itself.
# `docker-entrypoint.sh migrate` (compose's one-off `migrate` service) migrates as the owner
# role (DATABASE_OWNER_URL; the web's runtime role could not) and, only with LOAD_DEMO_DATA=1,
# loads the demo register, leaving alone every record someone else changed since.
set -e
if [ "$1" = "migrate" ]; then
    python manage.py migrate --noinput
    if [ "${LOAD_DEMO_DATA:-0}" = "1" ]; then
        python manage.py load_register
    fi
    exit 0
fi
exec "$@"
