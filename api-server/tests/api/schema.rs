//! Contracts checked against the source: the committed SDL, the README's commands and its
//! configuration table.

#[test]
fn schema_graphql_is_what_the_server_serves() {
    let committed = include_str!("../../../schema.graphql");
    let served = api_server::graphql::sdl();
    assert!(
        committed == served,
        "schema.graphql is stale: run `cargo run -p api-server -- print-schema > schema.graphql`"
    );
}

#[test]
fn the_readme_documents_every_setting_and_the_two_commands() {
    let readme = include_str!("../../../README.md");
    for (name, _, _) in domain::config::SETTINGS {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README's configuration table lacks {name}"
        );
    }
    assert!(readme.contains("cargo run -p api-server"));
    assert!(readme.contains("scripts/test"));
}
