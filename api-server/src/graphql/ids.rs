//! Object ids on the wire are UUIDs; anything else is `BAD_USER_INPUT` naming the argument.

use async_graphql::ID;
use uuid::Uuid;

use super::error::bad_input;

pub fn parse_id(argument: &str, id: &ID) -> async_graphql::Result<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| bad_input(format!("{argument}: not a valid id")))
}
