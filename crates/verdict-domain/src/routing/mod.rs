//! Which provider solves the next task: one captcha type's routing table and what it believes
//! of each provider ([`table`]), and the constrained Thompson-sampling choice it makes on every
//! request ([`choice`]), fed silence as it matures ([`silence`]).

pub mod choice;
pub mod silence;
pub mod table;

pub use choice::{Arm, Breaker, Choice, Pick, RouteLimits, beta_sample, choose};
pub use silence::{MaturingSilence, SilenceCredit};
pub use table::{Belief, HalfLife, Profile, RouteConfig, RouteDecision, RouteTable};
