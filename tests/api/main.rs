//! Integration tests: the real router over real Postgres (a fresh database per test) and
//! LocalStack. Run them with `make test`, which starts both and exports the configuration.

mod accounts;
mod auth_concurrency;
mod auth_login;
mod auth_register;
mod auth_sessions;
mod binaries;
mod direct_uploads;
mod docs;
mod hardening;
mod health;
mod localstack;
mod migrations;
mod processor;
mod reliability;
mod s3_permissions;
mod schema;
mod sweeper;
mod tasks_create;
mod tasks_get;
mod tasks_list;
mod tasks_manage;
mod template;
mod web_app;
