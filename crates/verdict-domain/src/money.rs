//! Money as an integer count of micro-units (10^-6 of the currency unit). Task prices on
//! captcha platforms go down to fractions of a cent (0.00099 per solve), so six places hold
//! every price seen in the wild exactly; floats never touch an amount.

use std::fmt;
use std::ops::{Add, AddAssign, Neg, Sub};

/// Micro-units per currency unit.
pub const SCALE: i64 = 1_000_000;
const SCALE_DIGITS: usize = 6;

/// An amount of money in micro-units. Signed, because reversals are negative ledger entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("an amount is a decimal string such as \"0.0020\"")]
    Syntax,
    #[error("an amount has at most 6 decimal places")]
    TooPrecise,
    #[error("amount is too large")]
    TooLarge,
    #[error("amount must not be negative")]
    Negative,
}

impl Amount {
    pub const ZERO: Amount = Amount(0);

    pub const fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    pub const fn micros(self) -> i64 {
        self.0
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses a decimal such as `0.0020`, `12`, `-1.5` (at most 6 decimal places).
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() && frac.is_empty()
            || !all_digits(whole)
            || !all_digits(frac)
            || (digits.contains('.') && frac.is_empty())
        {
            return Err(AmountError::Syntax);
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > SCALE_DIGITS {
            return Err(AmountError::TooPrecise);
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| AmountError::TooLarge)?
        };
        let mut frac_micros: i64 = 0;
        for (i, b) in frac.bytes().enumerate() {
            frac_micros += i64::from(b - b'0') * 10i64.pow((SCALE_DIGITS - 1 - i) as u32);
        }
        let micros = whole
            .checked_mul(SCALE)
            .and_then(|w| w.checked_add(frac_micros))
            .ok_or(AmountError::TooLarge)?;
        Ok(Self(if negative { -micros } else { micros }))
    }

    /// Like [`Amount::parse`], refusing negative amounts (prices, costs).
    pub fn parse_non_negative(text: &str) -> Result<Self, AmountError> {
        let amount = Self::parse(text)?;
        if amount.0 < 0 {
            return Err(AmountError::Negative);
        }
        Ok(amount)
    }

    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount)
    }
}

impl fmt::Display for Amount {
    /// At least two decimal places, at most six, no trailing zeros beyond the second:
    /// `0.002`, `1.50`, `0.00`, `-0.000125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let scale = SCALE.unsigned_abs();
        let frac = format!("{:06}", abs % scale);
        let trimmed = frac.trim_end_matches('0');
        let shown = if trimmed.len() < 2 {
            &frac[..2]
        } else {
            trimmed
        };
        write!(f, "{sign}{}.{shown}", abs / scale)
    }
}

impl Add for Amount {
    type Output = Amount;
    fn add(self, rhs: Amount) -> Amount {
        Amount(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign for Amount {
    fn add_assign(&mut self, rhs: Amount) {
        *self = *self + rhs;
    }
}

impl Sub for Amount {
    type Output = Amount;
    fn sub(self, rhs: Amount) -> Amount {
        Amount(self.0.saturating_sub(rhs.0))
    }
}

impl Neg for Amount {
    type Output = Amount;
    fn neg(self) -> Amount {
        Amount(self.0.saturating_neg())
    }
}

impl std::iter::Sum for Amount {
    fn sum<I: Iterator<Item = Amount>>(iter: I) -> Amount {
        iter.fold(Amount::ZERO, Add::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("0.0020", 2_000)]
    #[case("0.002", 2_000)]
    #[case("12", 12_000_000)]
    #[case(".5", 500_000)]
    #[case("1.000001", 1_000_001)]
    #[case("0.1000000", 100_000)]
    #[case("-0.25", -250_000)]
    fn decimals_parse_to_micros(#[case] text: &str, #[case] micros: i64) {
        assert_eq!(Amount::parse(text).unwrap().micros(), micros);
    }

    #[rstest]
    #[case("", AmountError::Syntax)]
    #[case(".", AmountError::Syntax)]
    #[case("1.", AmountError::Syntax)]
    #[case("1e-3", AmountError::Syntax)]
    #[case(" 1", AmountError::Syntax)]
    #[case("0.0000001", AmountError::TooPrecise)]
    #[case("99999999999999999999", AmountError::TooLarge)]
    fn malformed_amounts_are_refused(#[case] text: &str, #[case] err: AmountError) {
        assert_eq!(Amount::parse(text), Err(err));
    }

    #[test]
    fn costs_cannot_be_negative() {
        assert_eq!(Amount::parse_non_negative("-1"), Err(AmountError::Negative));
    }

    #[rstest]
    #[case(2_000, "0.002")]
    #[case(1_500_000, "1.50")]
    #[case(0, "0.00")]
    #[case(-125, "-0.000125")]
    #[case(12_340_000, "12.34")]
    fn amounts_render_with_two_to_six_places(#[case] micros: i64, #[case] text: &str) {
        assert_eq!(Amount::from_micros(micros).to_string(), text);
    }

    proptest! {
        #[test]
        fn render_then_parse_round_trips(micros in -1_000_000_000_000_000i64..1_000_000_000_000_000i64) {
            let a = Amount::from_micros(micros);
            prop_assert_eq!(Amount::parse(&a.to_string()).unwrap(), a);
        }

        #[test]
        fn parsing_never_panics(text in ".{0,40}") {
            let _ = Amount::parse(&text);
        }
    }
}
