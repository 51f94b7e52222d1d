//! Sign-in at the edge (Amazon Cognito, the Authorization@Edge pattern): the pieces the sign-in
//! block is built from: the ID token's verification ([`token`]).

pub mod token;

#[cfg(test)]
pub(crate) mod test_keys;
