//! Who is calling: the tenant an API key belongs to, narrowed by `X-On-Behalf-Of`.

/// The authenticated caller of a request.
///
/// Resources belong to an org and a team. A request made on behalf of an end user
/// (`X-On-Behalf-Of`) is narrowed to that user: it creates resources owned by the user
/// and sees only the team's shared resources (those created without delegation) and
/// the user's own. A direct (non-delegated) caller sees everything its team owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Id of the API key that authenticated the request.
    pub key_id: String,
    pub org_id: String,
    pub team_id: String,
    /// The end user from `X-On-Behalf-Of`, when the request is delegated.
    pub user_id: Option<String>,
    /// Org administrators may manage suite shares.
    pub is_admin: bool,
}

impl Principal {
    /// Whether the request acts for an end user rather than the key holder directly.
    pub fn is_delegated(&self) -> bool {
        self.user_id.is_some()
    }

    /// Whether a row owned by (`org`, `team`, `user`) is the caller's own, as opposed to one
    /// it reaches through a suite share. A delegated caller owns the team's undelegated rows
    /// and its own.
    pub fn owns(&self, org: &str, team: &str, user: Option<&str>) -> bool {
        self.org_id == org
            && self.team_id == team
            && (self.user_id.is_none() || user.is_none() || self.user_id.as_deref() == user)
    }
}
