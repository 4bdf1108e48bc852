//! The probability the screens need, computed exactly enough to decide reports: upper tails of
//! the beta-binomial and negative-binomial distributions (by recurrence in log space, so that
//! tails of 1e-16 are still accurate), beta quantiles, and the cohort's empirical-Bayes prior.

use statrs::distribution::{Beta, ContinuousCDF, Gamma};
use statrs::function::beta::ln_beta;
use statrs::function::gamma::ln_gamma;

/// Terms smaller than this share of the running sum end a tail sum.
const NEGLIGIBLE: f64 = 1e-17;

/// The smallest `k` with `P(X <= k) >= q` for `X ~ BetaBinomial(n, a, b)`: how many reports in
/// `n` tasks the cohort's accounts stay within with probability `q`, its spread and chance
/// together. Summed outward from the mean with unnormalised terms, so it neither underflows
/// for large `n` nor needs the normalising constant.
pub fn betabinom_quantile(q: f64, n: u64, a: f64, b: f64) -> u64 {
    if n == 0 || q <= 0.0 {
        return 0;
    }
    if q >= 1.0 {
        return n;
    }
    let nf = n as f64;
    // pmf(k + 1) / pmf(k)
    let up = |k: f64| (nf - k) / (k + 1.0) * (k + a) / (nf - k - 1.0 + b);
    let start = ((nf * a / (a + b)).round() as u64).min(n);
    let mut below = 0.0;
    let mut term = 1.0;
    let mut k = start;
    while k > 0 {
        term /= up((k - 1) as f64);
        below += term;
        k -= 1;
        if term < below * NEGLIGIBLE {
            break;
        }
    }
    let mut total = below + 1.0;
    let (mut term, mut k) = (1.0, start);
    while k < n {
        term *= up(k as f64);
        total += term;
        k += 1;
        if term < total * NEGLIGIBLE {
            break;
        }
    }
    // Walk from the mean towards the quantile: cdf(k) - pmf(k) = cdf(k - 1).
    let target = q * total;
    let (mut cdf, mut term, mut k) = (below + 1.0, 1.0, start);
    if cdf >= target {
        while k > 0 && cdf - term >= target {
            cdf -= term;
            term /= up((k - 1) as f64);
            k -= 1;
        }
    } else {
        while cdf < target && k < n {
            term *= up(k as f64);
            cdf += term;
            k += 1;
        }
    }
    k
}

/// `P(X >= x)` for `X ~ BetaBinomial(n, a, b)`: how unusual `x` reports in `n` tasks are for an
/// account drawn from a cohort whose report rates follow `Beta(a, b)`. Returns 1 for counts at
/// or below the mean, where only "not significant" matters.
pub fn betabinom_upper_tail(x: u64, n: u64, a: f64, b: f64) -> f64 {
    if x == 0 || n == 0 {
        return 1.0;
    }
    if x > n {
        return 0.0;
    }
    let mean = n as f64 * a / (a + b);
    if (x as f64) <= mean {
        return 1.0;
    }
    let (nf, xf) = (n as f64, x as f64);
    let ln_first = ln_gamma(nf + 1.0) - ln_gamma(xf + 1.0) - ln_gamma(nf - xf + 1.0)
        + ln_beta(xf + a, nf - xf + b)
        - ln_beta(a, b);
    // Sum pmf(j)/pmf(x) for j = x..n; pmf(j+1)/pmf(j) = (n-j)/(j+1) * (j+a)/(n-j-1+b).
    let (mut sum, mut term) = (1.0_f64, 1.0_f64);
    for j in x..n {
        let jf = j as f64;
        term *= (nf - jf) / (jf + 1.0) * (jf + a) / (nf - jf - 1.0 + b);
        sum += term;
        if term < sum * NEGLIGIBLE {
            break;
        }
    }
    (ln_first + sum.ln()).exp().min(1.0)
}

/// `P(X >= x)` for `X ~ NegativeBinomial(r, p)`, `pmf(k) = C(k+r-1, k) p^r (1-p)^k`: the
/// predictive distribution of a Poisson count whose rate has a Gamma posterior. Returns 1 for
/// counts at or below the mean.
pub fn negbin_upper_tail(x: u64, r: f64, p: f64) -> f64 {
    if x == 0 {
        return 1.0;
    }
    let mean = r * (1.0 - p) / p;
    if (x as f64) <= mean {
        return 1.0;
    }
    let xf = x as f64;
    let ln_first =
        ln_gamma(xf + r) - ln_gamma(xf + 1.0) - ln_gamma(r) + r * p.ln() + xf * (1.0 - p).ln();
    let (mut sum, mut term, mut k) = (1.0_f64, 1.0_f64, xf);
    loop {
        term *= (k + r) / (k + 1.0) * (1.0 - p);
        sum += term;
        k += 1.0;
        if term < sum * NEGLIGIBLE || k > xf + 1e7 {
            break;
        }
    }
    (ln_first + sum.ln()).exp().min(1.0)
}

/// The smallest `k` with `P(X <= k) >= q` for `X ~ NegativeBinomial(r, p)`.
pub fn negbin_quantile(q: f64, r: f64, p: f64) -> u64 {
    let mut pmf = (r * p.ln()).exp();
    let mut cdf = pmf;
    let mut k = 0u64;
    // Past a mean plus many deviations the cdf is 1 to double precision; stop there at worst.
    let mean = r * (1.0 - p) / p;
    let limit = (mean + 50.0 * (mean / p).sqrt() + 100.0) as u64;
    while cdf < q && k < limit {
        pmf *= (k as f64 + r) / (k as f64 + 1.0) * (1.0 - p);
        cdf += pmf;
        k += 1;
    }
    k
}

/// The `q` quantile of `Beta(a, b)`.
pub fn beta_quantile(q: f64, a: f64, b: f64) -> f64 {
    Beta::new(a, b)
        .map(|d| d.inverse_cdf(q))
        .unwrap_or(f64::NAN)
}

/// The `q` quantile of `Gamma(shape, rate)`.
pub fn gamma_quantile(q: f64, shape: f64, rate: f64) -> f64 {
    Gamma::new(shape, rate)
        .map(|d| d.inverse_cdf(q))
        .unwrap_or(f64::NAN)
}

/// `P(p <= v)` for `p ~ Beta(a, b)`.
pub fn beta_cdf(v: f64, a: f64, b: f64) -> f64 {
    Beta::new(a, b).map(|d| d.cdf(v)).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative closeness, for probabilities spanning many orders of magnitude.
    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs().max(f64::MIN_POSITIVE)
    }

    // Reference values from scipy 1.17.1 (stats.betabinom(n, a, b).sf(x - 1); for the last,
    // exp(betaln(30, 90) - betaln(10, 90)), where scipy's sf underflows). Agreement to 1e-6
    // relative: the log-gamma terms are in the hundreds, so double precision leaves ~1e-7.
    #[test]
    fn beta_binomial_tails_match_scipy() {
        let cases = [
            (20, 100, 10.0, 90.0, 0.023125629377882317),
            (30, 100, 10.0, 90.0, 0.00015780367170770138),
            (43, 100, 10.0, 90.0, 2.6652262175019814e-08),
            (99, 400, 10.0, 90.0, 0.0002611478218689234),
            (150, 1000, 2.0, 18.0, 0.20170880355103193),
            (20, 40, 10.0, 90.0, 3.839185206411244e-07),
            (20, 20, 10.0, 90.0, 4.079123374219308e-16),
        ];
        for (x, n, a, b, want) in cases {
            let got = betabinom_upper_tail(x, n, a, b);
            assert!(close(got, want, 1e-6), "x={x} n={n}: {got:e} vs {want:e}");
        }
    }

    #[test]
    fn beta_binomial_quantiles_match_scipy() {
        let cases = [
            (0.99, 50, 10.0, 90.0, 12),
            (0.99, 360, 10.0, 90.0, 69),
            (0.99, 1, 10.0, 90.0, 1),
            (0.99, 6000, 100.0, 900.0, 750),
            (0.5, 30, 2.0, 18.0, 2),
            (0.99, 100_000, 1000.0, 9000.0, 10_744),
            (0.01, 360, 10.0, 90.0, 13),
        ];
        for (q, n, a, b, want) in cases {
            assert_eq!(
                betabinom_quantile(q, n, a, b),
                want,
                "q={q} n={n} a={a} b={b}"
            );
        }
        assert_eq!(betabinom_quantile(0.99, 0, 10.0, 90.0), 0);
    }

    #[test]
    fn beta_binomial_tails_at_the_edges() {
        assert_eq!(betabinom_upper_tail(0, 100, 10.0, 90.0), 1.0);
        assert_eq!(betabinom_upper_tail(5, 0, 10.0, 90.0), 1.0);
        assert_eq!(
            betabinom_upper_tail(10, 100, 10.0, 90.0),
            1.0,
            "at the mean"
        );
        assert_eq!(betabinom_upper_tail(101, 100, 10.0, 90.0), 0.0);
        let mut last = 1.0;
        for x in 11..=100 {
            let p = betabinom_upper_tail(x, 100, 10.0, 90.0);
            assert!(p <= last, "tails fall as x grows");
            last = p;
        }
    }

    // scipy: stats.nbinom(r, beta / (beta + e)).sf(x - 1) and .ppf(0.99).
    #[test]
    fn negative_binomial_tails_and_quantiles_match_scipy() {
        let cases = [
            (30, 22.0, 202.0, 100.0, 0.00014473723666901515, 22),
            (22, 22.0, 202.0, 100.0, 0.010849522128562331, 22),
            (15, 5.5, 52.0, 40.0, 0.00285141752781507, 12),
        ];
        for (x, r, beta, e, want, q99) in cases {
            let p = beta / (beta + e);
            let got = negbin_upper_tail(x, r, p);
            assert!(close(got, want, 1e-6), "x={x}: {got:e} vs {want:e}");
            assert_eq!(negbin_quantile(0.99, r, p), q99);
        }
    }

    // scipy: stats.beta(a, b).ppf(0.99).
    #[test]
    fn beta_quantiles_match_scipy() {
        assert!(close(
            beta_quantile(0.99, 10.0, 90.0),
            0.18046012649887533,
            1e-7
        ));
        assert!(close(
            beta_quantile(0.99, 2.0, 18.0),
            0.30180102632969186,
            1e-7
        ));
    }
}
