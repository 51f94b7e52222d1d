//! Sign-in at the edge (Amazon Cognito, the Authorization@Edge pattern): the pieces the sign-in
//! blocks are built from, starting with the ID token's verification ([`token`]).

pub mod token;
