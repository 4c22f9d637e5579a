use super::*;

const MINIMAL: &str = r#"
[[layer]]
id = "zoning"
title_ja = "用途地域"
title_en = "Zoning"
department = "都市計画課"
source = { path = "zoning.geojson" }
audience = "public"
license = "CC BY 4.0"
updated = "2026-04-01"
[[layer.attribute]]
name = "用途地域"
type = "string"
label_ja = "用途地域"
"#;

#[test]
fn minimal_catalog_parses_with_defaults() {
    let c = CatalogConfig::parse(MINIMAL, Path::new("catalog.toml")).expect("valid");
    assert_eq!(c.server.default_limit, 10);
    assert_eq!(c.layers[0].attributes[0].name, "用途地域");
}

#[test]
fn a_layer_has_exactly_one_origin() {
    let c = CatalogConfig::parse(MINIMAL, Path::new("c")).expect("valid");
    assert!(matches!(c.layers[0].origin, Origin::File(_)));
    assert!(c.layers[0].source().is_some() && c.layers[0].edit().is_none());
    let none = MINIMAL.replace("source = { path = \"zoning.geojson\" }\n", "");
    let two = MINIMAL.replace(
        "source = { path = \"zoning.geojson\" }",
        "source = { path = \"zoning.geojson\" }\nview = { of = \"zoning\" }",
    );
    for (text, said) in [
        (
            none,
            "layer \"zoning\": give source (a file), edit (an editable layer) or view",
        ),
        (
            two,
            "layer \"zoning\": give only one of source, edit and view",
        ),
    ] {
        let e = CatalogConfig::parse(&text, Path::new("c")).expect_err(said);
        assert_eq!(e.to_string(), format!("c: {said}"));
    }
}

#[test]
fn unknown_field_names_line_and_layer() {
    let text = MINIMAL.replace("license =", "colour = \"red\"\nlicense =");
    let e = CatalogConfig::parse(&text, Path::new("data/catalog.toml")).unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with("data/catalog.toml: line 9"), "{msg}");
    assert!(msg.contains("colour"), "{msg}");
    assert!(msg.contains("layer \"zoning\""), "{msg}");
}

#[test]
fn bad_layer_id_and_duplicate_are_refused() {
    let e = CatalogConfig::parse(
        &MINIMAL.replace("\"zoning\"", "\"Zoning!\""),
        Path::new("c"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("lowercase"), "{e}");
    let twice = format!("{MINIMAL}\n{}", MINIMAL.trim_start());
    let e = CatalogConfig::parse(&twice, Path::new("c")).unwrap_err();
    assert!(e.to_string().contains("more than one layer"), "{e}");
}

#[test]
fn id_field_may_not_be_hidden() {
    let text = MINIMAL
        .replace("name = \"用途地域\"", "name = \"区域ID\"")
        .replace(
            "label_ja = \"用途地域\"",
            "label_ja = \"x\"\naudience = \"internal\"",
        )
        .replace(
            "audience = \"public\"\n",
            "audience = \"public\"\nid_field = \"区域ID\"\n",
        );
    let e = CatalogConfig::parse(&text, Path::new("c")).unwrap_err();
    assert!(e.to_string().contains("feature ids are shown"), "{e}");
}

#[test]
fn public_metadata_may_not_name_a_hidden_attribute() {
    let text = MINIMAL
        .replace(
            "label_ja = \"用途地域\"",
            "label_ja = \"x\"\naudience = \"internal\"",
        )
        .replace(
            "department = \"都市計画課\"",
            "department = \"都市計画課\"\ndescription = \"用途地域は庁内限定\"",
        );
    let e = CatalogConfig::parse(&text, Path::new("c")).unwrap_err();
    assert!(
        e.to_string()
            .contains("hidden from part of the layer's audience"),
        "{e}"
    );
}

#[test]
fn attribute_audience_may_not_be_broader_than_layer() {
    let text = MINIMAL
        .replace("audience = \"public\"", "audience = \"internal\"")
        .replace(
            "label_ja = \"用途地域\"",
            "label_ja = \"x\"\naudience = \"public\"",
        );
    let e = CatalogConfig::parse(&text, Path::new("c")).unwrap_err();
    assert!(e.to_string().contains("broader"), "{e}");
}

const SECTION: &str = r#"
[[location]]
layer = "zoning"
match = "contains"
attributes = ["用途地域"]
"#;

fn with_section(section: &str) -> Result<CatalogConfig, ConfigError> {
    CatalogConfig::parse(&format!("{MINIMAL}{section}"), Path::new("c"))
}

#[test]
fn location_sections_parse_and_name_themselves_in_errors() {
    let c = with_section(SECTION).expect("valid");
    assert_eq!(c.location[0].rule, MatchRule::Contains);
    assert_eq!(c.location[0].max_results(), usize::MAX);
    let cases = [
        (
            SECTION.replace("\"zoning\"", "\"roads\""),
            "layer \"roads\" is not in the catalog",
        ),
        (
            SECTION.replace("[\"用途地域\"]", "[\"容積率\"]"),
            "\"容積率\" is not a declared attribute",
        ),
        (
            SECTION.replace("[\"用途地域\"]", "[]"),
            "at least one attribute",
        ),
        (
            SECTION.replace("\"contains\"", "\"within\""),
            "unknown variant `within`",
        ),
        (
            format!("{SECTION}within_m = 5\n"),
            "only to match = \"nearest\"",
        ),
        (
            SECTION.replace("\"contains\"", "\"nearest\"") + "within_m = 0\n",
            "within_m must be a positive number",
        ),
        (format!("{SECTION}limit = 0\n"), "limit must be 1 to 100"),
        (format!("{SECTION}colour = 1\n"), "unknown field `colour`"),
    ];
    for (section, expect) in cases {
        let e = with_section(&section).expect_err(expect).to_string();
        assert!(e.contains(expect), "{e}");
        assert!(e.contains("[[location]] #1 (layer \""), "{e}");
    }
    let two = format!("{SECTION}{}", SECTION.replace("\"zoning\"", "\"parks\""));
    let e = with_section(&two).expect_err("unknown layer").to_string();
    assert!(e.contains("[[location]] #2 (layer \"parks\")"), "{e}");
}

#[test]
fn searched_attributes_are_declared_text() {
    let text = MINIMAL.replace(
        "audience = \"public\"\n",
        "audience = \"public\"\nsearch = [\"用途地域\"]\n",
    );
    let c = CatalogConfig::parse(&text, Path::new("c")).expect("valid");
    assert_eq!(c.layers[0].search, vec!["用途地域"]);
    for (list, expect) in [
        ("[\"名称\"]", "search: \"名称\" is not a declared attribute"),
        ("[\"用途地域\", \"用途地域\"]", "listed twice"),
    ] {
        let text = MINIMAL.replace(
            "audience = \"public\"\n",
            &format!("audience = \"public\"\nsearch = {list}\n"),
        );
        let e = CatalogConfig::parse(&text, Path::new("c")).expect_err(expect);
        assert!(e.to_string().contains(expect), "{e}");
        assert!(e.to_string().contains("layer \"zoning\""), "{e}");
    }
    let text = MINIMAL
        .replace("type = \"string\"", "type = \"integer\"")
        .replace(
            "audience = \"public\"\n",
            "audience = \"public\"\nsearch = [\"用途地域\"]\n",
        );
    let e = CatalogConfig::parse(&text, Path::new("c")).expect_err("integer");
    assert!(e.to_string().contains("is not of type string"), "{e}");
}

#[test]
fn connection_limits_are_read_and_checked() {
    let with = |table: &str| format!("[server.security]\n{table}\n{MINIMAL}");
    let c = CatalogConfig::parse(
        &with("header_timeout_seconds = 3\nmax_connections_per_address = 8"),
        Path::new("c"),
    )
    .expect("valid");
    assert_eq!(c.server.security.header_timeout_seconds, 3);
    assert_eq!(c.server.security.max_connections_per_address, 8);
    assert_eq!(c.server.security.max_connections, 4096);
    for (table, said) in [
        (
            "body_timeout_seconds = 0",
            "body_timeout_seconds must be 1 to 3600",
        ),
        ("max_connections = 0", "max_connections must be positive"),
        (
            "max_connections = 10\nmax_connections_per_address = 11",
            "must not exceed max_connections",
        ),
        ("max_uri_bytes = 100000", "max_uri_bytes must be 1024 to"),
        ("max_header_bytes = 100", "max_header_bytes must be 4096 to"),
        ("header_timeout = 3", "header_timeout"),
    ] {
        let e = CatalogConfig::parse(&with(table), Path::new("c")).expect_err(table);
        assert!(e.to_string().contains(said), "{table}: {e}");
    }
}
