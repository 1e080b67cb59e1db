//! Tenant isolation through the API: another org's objects are NOT_FOUND, worded like ids
//! that never existed, for users and API keys alike.

use serde_json::json;
use uuid::Uuid;

use crate::both_backends;
use crate::support::{Caller, TestApp};

both_backends!(
    other_orgs_objects_are_not_found,
    org_header_must_name_a_membership,
    api_keys_act_only_in_their_org,
    organizations_and_members_lifecycle,
    last_admin_cannot_leave,
);

async fn other_orgs_objects_are_not_found(app: TestApp) {
    let b = app.admin_b.caller();
    let (key_a, _) = app.create_key(&app.admin_a, "VIEWER").await;
    let probes = [
        (
            "mutation($id: ID!) { setMemberRole(input: { userId: $id, role: ADMIN }) { role } }",
            app.viewer_a.user_id.to_string(),
        ),
        (
            "mutation($id: ID!) { removeMember(userId: $id) { role } }",
            app.viewer_a.user_id.to_string(),
        ),
        (
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            key_a.clone(),
        ),
    ];
    for (query, id) in probes {
        let as_b = app.gql(&b, query, json!({ "id": id })).await;
        let never = app
            .gql(&b, query, json!({ "id": Uuid::now_v7().to_string() }))
            .await;
        assert_eq!(as_b.code(), "NOT_FOUND", "{query}: {}", as_b.body);
        assert_eq!(
            as_b.message(),
            never.message(),
            "another org's id reads like a missing one"
        );
    }
    // Nothing changed in org A.
    let r = app
        .gql(&app.admin_a.caller(), "{ organization { members { edges { node { role user { id } } } } apiKeys { edges { node { id revokedAt } } } } }", json!({}))
        .await;
    let org = &r.data()["organization"];
    assert_eq!(org["members"]["edges"].as_array().unwrap().len(), 4);
    assert!(org["apiKeys"]["edges"][0]["node"]["revokedAt"].is_null());
    // B's lists show only B.
    let r = app.gql(&b, "{ organization { slug members { edges { node { user { email } } } } apiKeys { edges { node { id } } } } }", json!({})).await;
    let org = &r.data()["organization"];
    assert_eq!(org["slug"], app.org_b.slug.as_str());
    let emails: Vec<&str> = org["members"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["user"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec![app.admin_b.email.as_str()]);
    assert!(org["apiKeys"]["edges"].as_array().unwrap().is_empty());
}

async fn org_header_must_name_a_membership(app: TestApp) {
    let q = "{ organization { slug } }";
    // The org of someone else, by slug and by id, and an org that does not exist.
    for header in [
        app.org_b.slug.clone(),
        app.org_b.id.to_string(),
        "no-such-org".to_owned(),
    ] {
        let r = app
            .gql(
                &Caller::token(&app.admin_a.token).in_org(&header),
                q,
                json!({}),
            )
            .await;
        assert_eq!(r.code(), "NOT_FOUND", "{header}: {}", r.body);
        assert_eq!(r.message(), "organization not found");
    }
    let r = app
        .gql(&Caller::token(&app.admin_a.token), q, json!({}))
        .await;
    assert_eq!(r.code(), "BAD_USER_INPUT", "no header: {}", r.body);
    let by_id = app
        .gql(
            &Caller::token(&app.admin_a.token).in_org(&app.org_a.id.to_string()),
            q,
            json!({}),
        )
        .await;
    assert_eq!(
        by_id.data()["organization"]["slug"],
        app.org_a.slug.as_str()
    );
    // The viewer query needs no org and lists only the user's own memberships.
    let r = app
        .gql(
            &Caller::token(&app.admin_a.token),
            "{ viewer { user { email } memberships { role organization { slug } } } }",
            json!({}),
        )
        .await;
    let v = &r.data()["viewer"];
    assert_eq!(v["user"]["email"], app.admin_a.email.as_str());
    assert_eq!(
        v["memberships"],
        json!([{ "role": "ADMIN", "organization": { "slug": app.org_a.slug } }])
    );
}

async fn api_keys_act_only_in_their_org(app: TestApp) {
    let (_, secret) = app.create_key(&app.admin_a, "ADMIN").await;
    let q = "{ organization { slug } }";
    let own = app.gql(&Caller::key(&secret), q, json!({})).await;
    assert_eq!(own.data()["organization"]["slug"], app.org_a.slug.as_str());
    let own_named = app
        .gql(&Caller::key(&secret).in_org(&app.org_a.slug), q, json!({}))
        .await;
    assert_eq!(
        own_named.data()["organization"]["slug"],
        app.org_a.slug.as_str()
    );
    let other = app
        .gql(&Caller::key(&secret).in_org(&app.org_b.slug), q, json!({}))
        .await;
    assert_eq!(other.code(), "NOT_FOUND");
}

async fn organizations_and_members_lifecycle(app: TestApp) {
    let me = Caller::token(&app.engineer_a.token);
    let slug = format!("new-{}", &Uuid::now_v7().simple().to_string()[20..]);
    let created = app
        .gql(&me, "mutation($s: String!) { createOrganization(input: { slug: $s, name: \" New Org \" }) { slug name } }", json!({ "s": slug }))
        .await;
    assert_eq!(
        created.data()["createOrganization"],
        json!({ "slug": slug, "name": "New Org" })
    );
    let again = app
        .gql(&me, "mutation($s: String!) { createOrganization(input: { slug: $s, name: \"Dup\" }) { slug } }", json!({ "s": slug }))
        .await;
    assert_eq!(again.code(), "CONFLICT");
    for bad in [
        "A",
        "-x-",
        "has space",
        "0190a5e2-7a3c-7cc1-9b45-3f2d3e4f5a6b",
    ] {
        let r = app
            .gql(&me, "mutation($s: String!) { createOrganization(input: { slug: $s, name: \"N\" }) { slug } }", json!({ "s": bad }))
            .await;
        assert_eq!(r.code(), "BAD_USER_INPUT", "{bad}");
        assert_eq!(
            r.body["errors"][0]["extensions"]["fields"][0]["field"],
            "slug"
        );
    }
    // The creator is ADMIN of the new org and can add a member there.
    let in_new = me.clone().in_org(&slug);
    let r = app.gql(&in_new, "mutation { addMember(input: { email: \"Invitee@Example.test\", role: ENGINEER }) { role user { id email } } }", json!({})).await;
    let added = &r.data()["addMember"];
    assert_eq!(added["role"], "ENGINEER");
    assert_eq!(added["user"]["email"], "invitee@example.test");
    let dup = app.gql(&in_new, "mutation { addMember(input: { email: \"invitee@example.test\", role: VIEWER }) { role } }", json!({})).await;
    assert_eq!(dup.code(), "CONFLICT");
    let bad = app
        .gql(
            &in_new,
            "mutation { addMember(input: { email: \"not-an-email\", role: VIEWER }) { role } }",
            json!({}),
        )
        .await;
    assert_eq!(bad.code(), "BAD_USER_INPUT");
    let uid = added["user"]["id"].as_str().unwrap();
    let r = app
        .gql(
            &in_new,
            "mutation($id: ID!) { setMemberRole(input: { userId: $id, role: MANAGER }) { role } }",
            json!({ "id": uid }),
        )
        .await;
    assert_eq!(r.data()["setMemberRole"]["role"], "MANAGER");
    let r = app
        .gql(
            &in_new,
            "mutation($id: ID!) { removeMember(userId: $id) { role user { email } } }",
            json!({ "id": uid }),
        )
        .await;
    assert_eq!(
        r.data()["removeMember"]["user"]["email"],
        "invitee@example.test"
    );
    let r = app
        .gql(
            &in_new,
            "{ organization { members { edges { node { role } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r.data()["organization"]["members"]["edges"],
        json!([{ "node": { "role": "ADMIN" } }])
    );
    let viewer = app
        .gql(
            &me,
            "{ viewer { memberships { role organization { slug } } } }",
            json!({}),
        )
        .await;
    let slugs: Vec<&str> = viewer.data()["viewer"]["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["organization"]["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, vec![app.org_a.slug.as_str(), slug.as_str()]);
}

async fn last_admin_cannot_leave(app: TestApp) {
    let admin = app.admin_a.caller();
    let me = app.admin_a.user_id.to_string();
    let demote = app
        .gql(
            &admin,
            "mutation($id: ID!) { setMemberRole(input: { userId: $id, role: VIEWER }) { role } }",
            json!({ "id": me }),
        )
        .await;
    assert_eq!(demote.code(), "CONFLICT", "{}", demote.body);
    let leave = app
        .gql(
            &admin,
            "mutation($id: ID!) { removeMember(userId: $id) { role } }",
            json!({ "id": me }),
        )
        .await;
    assert_eq!(leave.code(), "CONFLICT");
    // With a second ADMIN, the first may step down.
    let promote = app
        .gql(
            &admin,
            "mutation($id: ID!) { setMemberRole(input: { userId: $id, role: ADMIN }) { role } }",
            json!({ "id": app.manager_a.user_id.to_string() }),
        )
        .await;
    assert_eq!(promote.data()["setMemberRole"]["role"], "ADMIN");
    let demote = app
        .gql(
            &admin,
            "mutation($id: ID!) { setMemberRole(input: { userId: $id, role: VIEWER }) { role } }",
            json!({ "id": me }),
        )
        .await;
    assert_eq!(demote.data()["setMemberRole"]["role"], "VIEWER");
}

both_backends!(membership_changes_apply_to_the_next_request);

async fn membership_changes_apply_to_the_next_request(app: TestApp) {
    let viewer = app.viewer_a.caller();
    let create = "mutation { createIncident(input: { title: \"t\", severity: SEV4 }) { id } }";
    assert_eq!(
        app.gql(&viewer, create, json!({})).await.code(),
        "FORBIDDEN"
    );
    let admin = app.admin_a.caller();
    let id = app.viewer_a.user_id.to_string();
    app.gql(
        &admin,
        "mutation($id: ID!) { setMemberRole(input: { userId: $id, role: ENGINEER }) { role } }",
        json!({ "id": id }),
    )
    .await
    .data();
    app.gql(&viewer, create, json!({})).await.data();
    app.gql(
        &admin,
        "mutation($id: ID!) { removeMember(userId: $id) { role } }",
        json!({ "id": id }),
    )
    .await
    .data();
    let r = app
        .gql(&viewer, "{ organization { slug } }", json!({}))
        .await;
    assert_eq!(
        r.code(),
        "NOT_FOUND",
        "a removed member loses the org at once"
    );
    let v = app
        .gql(
            &Caller::token(&app.viewer_a.token),
            "{ viewer { memberships { role } } }",
            json!({}),
        )
        .await;
    assert_eq!(v.data()["viewer"]["memberships"], json!([]));
}
