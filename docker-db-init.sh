#!/bin/sh
# Run once by the postgres image when compose's database volume is first created (mounted in
# /docker-entrypoint-initdb.d/): the register's two roles (DESIGN §6) and its database.
# caseregister_owner owns the database and its tables and runs the migrations;
# caseregister_app is the application's runtime role, granted its rights by `migrate`.
# Neither is a superuser; the image's superuser stays inside this container's admin tasks.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v owner_password="$DATABASE_OWNER_PASSWORD" -v app_password="$DATABASE_APP_PASSWORD" <<'SQL'
CREATE ROLE caseregister_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE caseregister_app LOGIN PASSWORD :'app_password';
CREATE DATABASE caseregister OWNER caseregister_owner;
SQL
