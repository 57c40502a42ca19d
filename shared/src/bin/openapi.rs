//! Prints the OpenAPI document that `/openapi.json` serves: `make openapi` writes it to
//! `openapi.json`, and a test fails when the committed copy is stale.

fn main() -> Result<(), serde_json::Error> {
    println!("{}", writers::http::docs::openapi().to_pretty_json()?);
    Ok(())
}
