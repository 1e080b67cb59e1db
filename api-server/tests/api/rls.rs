//! PostgreSQL row-level security, the second guard behind the services' filters: checked
//! in the catalog, and by deliberately unfiltered queries through the app role.

use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

use crate::support::{Backend, TestApp, env};

async fn count(conn: &impl ConnectionTrait, sql: &str) -> i64 {
    let row = conn
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn every_tenant_table_forces_rls_and_the_app_role_cannot_bypass_it() {
    let app = TestApp::new(Backend::Postgres).await;
    let db = &app.app.db;
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                    (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind = 'r'
                AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'org_id')
              ORDER BY 1",
        ))
        .await
        .unwrap();
    let mut tables = Vec::new();
    for r in rows {
        let name: String = r.try_get_by_index(0).unwrap();
        let enabled: bool = r.try_get_by_index(1).unwrap();
        let forced: bool = r.try_get_by_index(2).unwrap();
        let policies: i64 = r.try_get_by_index(3).unwrap();
        assert!(
            enabled && forced && policies >= 1,
            "{name}: rls={enabled} force={forced} policies={policies}"
        );
        tables.push(name);
    }
    let mut expected: Vec<String> = domain::migration::tenant_tables()
        .iter()
        .map(|t| t.to_string())
        .collect();
    expected.sort();
    assert_eq!(
        tables, expected,
        "domain::migration::TENANT_TABLES lists every table with org_id"
    );

    let role = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT rolsuper, rolbypassrls, (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
               FROM pg_roles r WHERE rolname = current_user",
        ))
        .await
        .unwrap()
        .unwrap();
    let (superuser, bypass, owned): (bool, bool, i64) = (
        role.try_get_by_index(0).unwrap(),
        role.try_get_by_index(1).unwrap(),
        role.try_get_by_index(2).unwrap(),
    );
    assert!(
        !superuser && !bypass && owned == 0,
        "app role: super={superuser} bypass={bypass} owns={owned}"
    );
}

#[tokio::test]
async fn an_unfiltered_query_sees_only_the_transactions_org() {
    let app = TestApp::new(Backend::Postgres).await;
    let db = &app.app.db;
    let tx = domain::db::begin(db, domain::db::Scope::org(app.org_a.id))
        .await
        .unwrap();
    let others = count(
        &tx,
        &format!(
            "SELECT count(*) FROM memberships WHERE org_id <> '{}'",
            app.org_a.id
        ),
    )
    .await;
    let mine = count(&tx, "SELECT count(*) FROM memberships").await;
    let audit_others = count(
        &tx,
        &format!(
            "SELECT count(*) FROM audit_log WHERE org_id <> '{}'",
            app.org_a.id
        ),
    )
    .await;
    tx.commit().await.unwrap();
    assert_eq!(others, 0, "no other org's memberships are visible");
    assert_eq!(audit_others, 0);
    assert_eq!(mine, 4, "org A's four personas");

    // Outside a scoped transaction (and after commit) nothing is visible at all.
    assert_eq!(count(db, "SELECT count(*) FROM memberships").await, 0);
    assert_eq!(count(db, "SELECT count(*) FROM api_keys").await, 0);
    assert_eq!(count(db, "SELECT count(*) FROM audit_log").await, 0);
    let tx = db.begin().await.unwrap();
    assert_eq!(count(&tx, "SELECT count(*) FROM memberships").await, 0);
    tx.commit().await.unwrap();

    // Writing another org's row from org A's transaction is refused by the policy.
    let tx = domain::db::begin(db, domain::db::Scope::org(app.org_a.id))
        .await
        .unwrap();
    let forged = tx
        .execute_unprepared(&format!(
            "INSERT INTO memberships (id, org_id, user_id, role, created_at) VALUES (gen_random_uuid(), '{}', '{}', 'ADMIN', now())",
            app.org_b.id, app.admin_a.user_id
        ))
        .await;
    assert!(
        forged.is_err(),
        "row-level security refuses a write into org B"
    );
}

#[tokio::test]
async fn the_migration_role_is_separate_from_the_app_role() {
    let url = env("OPSDECK_TEST_MIGRATE_URL");
    assert_ne!(url, env("OPSDECK_TEST_APP_URL"));
}
