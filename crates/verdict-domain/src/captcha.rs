//! Captcha types, the families reports are judged by, and which families an endpoint accepts.

use std::fmt;

/// The canonical captcha types (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaptchaType {
    Image,
    Audio,
    RecaptchaV2,
    RecaptchaV3,
    RecaptchaEnterprise,
    Hcaptcha,
    Turnstile,
    Funcaptcha,
    Geetest,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown captcha type {0:?}; expected one of image, audio, recaptcha_v2, recaptcha_v3, \
     recaptcha_enterprise, hcaptcha, turnstile, funcaptcha, geetest, other"
)]
pub struct UnknownCaptchaType(pub String);

impl CaptchaType {
    pub const ALL: [CaptchaType; 10] = [
        CaptchaType::Image,
        CaptchaType::Audio,
        CaptchaType::RecaptchaV2,
        CaptchaType::RecaptchaV3,
        CaptchaType::RecaptchaEnterprise,
        CaptchaType::Hcaptcha,
        CaptchaType::Turnstile,
        CaptchaType::Funcaptcha,
        CaptchaType::Geetest,
        CaptchaType::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CaptchaType::Image => "image",
            CaptchaType::Audio => "audio",
            CaptchaType::RecaptchaV2 => "recaptcha_v2",
            CaptchaType::RecaptchaV3 => "recaptcha_v3",
            CaptchaType::RecaptchaEnterprise => "recaptcha_enterprise",
            CaptchaType::Hcaptcha => "hcaptcha",
            CaptchaType::Turnstile => "turnstile",
            CaptchaType::Funcaptcha => "funcaptcha",
            CaptchaType::Geetest => "geetest",
            CaptchaType::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownCaptchaType> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == text)
            .ok_or_else(|| UnknownCaptchaType(text.to_owned()))
    }

    pub fn family(self) -> Family {
        match self {
            CaptchaType::Image => Family::Image,
            CaptchaType::Audio => Family::Audio,
            CaptchaType::RecaptchaV2
            | CaptchaType::RecaptchaV3
            | CaptchaType::RecaptchaEnterprise => Family::Recaptcha,
            CaptchaType::Hcaptcha => Family::Hcaptcha,
            CaptchaType::Turnstile => Family::Turnstile,
            CaptchaType::Funcaptcha => Family::Funcaptcha,
            CaptchaType::Geetest => Family::Geetest,
            CaptchaType::Other => Family::Other,
        }
    }
}

impl fmt::Display for CaptchaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Captcha families: the unit of report windows, statistics and endpoint eligibility.
/// reCAPTCHA v2, v3 and Enterprise form one family, as the anti-captcha report rules do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Image,
    Audio,
    Recaptcha,
    Hcaptcha,
    Turnstile,
    Funcaptcha,
    Geetest,
    Other,
}

impl Family {
    pub const ALL: [Family; 8] = [
        Family::Image,
        Family::Audio,
        Family::Recaptcha,
        Family::Hcaptcha,
        Family::Turnstile,
        Family::Funcaptcha,
        Family::Geetest,
        Family::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Family::Image => "image",
            Family::Audio => "audio",
            Family::Recaptcha => "recaptcha",
            Family::Hcaptcha => "hcaptcha",
            Family::Turnstile => "turnstile",
            Family::Funcaptcha => "funcaptcha",
            Family::Geetest => "geetest",
            Family::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == text)
    }

    /// Whether an answer can be re-checked by solving the captcha again (image/text, audio).
    /// Tokens cannot: they are single-use and only the target site can tell.
    pub fn is_verifiable(self) -> bool {
        matches!(self, Family::Image | Family::Audio)
    }

    /// Whether a client may send the right answer along with its report.
    pub fn accepts_corrections(self) -> bool {
        self.is_verifiable()
    }

    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The families an endpoint takes reports for (anti-captcha's `reportIncorrectRecaptcha` takes
/// reCAPTCHA only; captcha.fun's report takes anything).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Eligibility(u16);

impl Eligibility {
    pub const ALL: Eligibility = Eligibility(0xff);

    pub const fn only(families: &[Family]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < families.len() {
            bits |= families[i].bit();
            i += 1;
        }
        Self(bits)
    }

    pub fn allows(self, family: Family) -> bool {
        self.0 & family.bit() != 0
    }

    pub fn families(self) -> impl Iterator<Item = Family> {
        Family::ALL.into_iter().filter(move |f| self.allows(*f))
    }
}

impl fmt::Debug for Eligibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.families()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_through_its_name() {
        for t in CaptchaType::ALL {
            assert_eq!(CaptchaType::parse(t.as_str()), Ok(t));
        }
        for f in Family::ALL {
            assert_eq!(Family::parse(f.as_str()), Some(f));
        }
    }

    #[test]
    fn recaptcha_versions_share_one_family() {
        assert_eq!(CaptchaType::RecaptchaV3.family(), Family::Recaptcha);
        assert_eq!(CaptchaType::RecaptchaEnterprise.family(), Family::Recaptcha);
    }

    #[test]
    fn eligibility_holds_exactly_the_listed_families() {
        let e = Eligibility::only(&[Family::Image, Family::Audio]);
        assert!(e.allows(Family::Image) && e.allows(Family::Audio));
        assert!(!e.allows(Family::Recaptcha));
        assert_eq!(e.families().count(), 2);
        assert!(Family::ALL.iter().all(|f| Eligibility::ALL.allows(*f)));
    }
}
