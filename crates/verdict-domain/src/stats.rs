//! The probability the screens need, computed exactly enough to decide reports: upper tails and
//! quantiles of the beta-binomial and negative-binomial distributions, beta quantiles, and the
//! cohort's empirical-Bayes prior.
//!
//! A report's cost must not grow with its account (an account with a million tasks in its window
//! has a tail tens of thousands of terms long), so a tail is summed term by term only where it is
//! short; past [`EXACT_TERMS`] terms the rest is integrated, with the pmf's smooth extension to
//! real arguments and the Euler–Maclaurin formula, in a bounded number of Gauss–Legendre panels.
//! Tests hold both paths to the exact sum.

use statrs::distribution::{Beta, ContinuousCDF, Gamma, Normal};
use statrs::function::gamma::{digamma, ln_gamma};

/// Terms smaller than this share of the running sum end a tail sum.
const NEGLIGIBLE: f64 = 1e-17;

/// Terms a tail is summed over one by one before the rest is integrated. A tail still going after
/// this many terms falls by less than ~0.3 of an e-fold per term where the integral takes over,
/// which puts the first neglected Euler–Maclaurin term near 1e-8 of the sum (the tests hold the
/// whole to 1e-7 of the exact sum).
const EXACT_TERMS: u64 = 256;

/// A panel spans at most this many e-folds of the integrand, where 8-point Gauss–Legendre is
/// exact to ~1e-11.
const PANEL_EFOLDS: f64 = 6.0;

/// A panel spans at most this many standard deviations of the distribution.
const PANEL_SDS: f64 = 2.0;

/// Newton steps a quantile search takes at most before its integer walk.
const NEWTON_STEPS: usize = 40;

/// 8-point Gauss–Legendre nodes and weights on [-1, 1], the positive half. Eight constants do not
/// warrant a quadrature crate.
const GAUSS_LEGENDRE_8: [(f64, f64); 4] = [
    (0.183_434_642_495_649_8, 0.362_683_783_378_362),
    (0.525_532_409_916_329, 0.313_706_645_877_887_3),
    (0.796_666_477_413_626_7, 0.222_381_034_453_374_5),
    (0.960_289_856_497_536_3, 0.101_228_536_290_376_3),
];

/// `ln Γ(z)`. For `z >= 10` by Stirling's series to the `z^-7` term (error below 1e-12): the
/// integrated tails evaluate it hundreds of times per report, and statrs' Lanczos sum costs
/// several times as much.
fn ln_gamma_fast(z: f64) -> f64 {
    if z < 10.0 {
        return ln_gamma(z);
    }
    let inv = 1.0 / z;
    let inv2 = inv * inv;
    let series =
        inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 * (1.0 / 1680.0))));
    (z - 0.5) * z.ln() - z + 0.5 * (2.0 * std::f64::consts::PI).ln() + series
}

/// `ψ(z)`, the derivative of `ln Γ`. For `z >= 10` by its asymptotic series to the `z^-8` term
/// (error below 1e-12), for the same reason as [`ln_gamma_fast`].
fn digamma_fast(z: f64) -> f64 {
    if z < 10.0 {
        return digamma(z);
    }
    let inv = 1.0 / z;
    let inv2 = inv * inv;
    let series =
        inv2 * (1.0 / 12.0 - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0))));
    z.ln() - 0.5 * inv - series
}

/// A distribution on the counts 0, 1, … whose log pmf extends smoothly to real arguments.
trait Count {
    fn ln_pmf(&self, t: f64) -> f64;
    /// The derivative of `ln_pmf` at `t`.
    fn slope(&self, t: f64) -> f64;
    /// `pmf(k + 1) / pmf(k)`, cheap: what a term-by-term sum multiplies by.
    fn ratio(&self, k: f64) -> f64;
    /// How far below and above `t` the log pmf has its nearest singularities (those of the
    /// log-gamma terms, just below 0 and just above the last count): panels keep their distance,
    /// since Gauss–Legendre converges only as fast as the integrand is analytic around a panel.
    fn room(&self, t: f64) -> (f64, f64);
    /// The largest count with positive probability, if there is one.
    fn last(&self) -> Option<u64>;
    fn mean(&self) -> f64;
    fn sd(&self) -> f64;

    /// `P(X >= x)`.
    fn upper_tail(&self, x: u64) -> f64 {
        if x == 0 {
            return 1.0;
        }
        if self.last().is_some_and(|last| x > last) {
            return 0.0;
        }
        (self.ln_pmf(x as f64) + tail_ratio(self, x).ln())
            .exp()
            .min(1.0)
    }

    /// The smallest `k` with `P(X <= k) >= q`: Newton's method on the upper tail from a normal
    /// start, then an exact walk over the last few integers.
    fn quantile(&self, q: f64) -> u64 {
        let (mean, sd) = (self.mean(), self.sd());
        // Past a mean plus many deviations the cdf is 1 to double precision.
        let ceiling = self
            .last()
            .unwrap_or((mean + 50.0 * sd + 100.0) as u64)
            .saturating_add(1);
        if q <= 0.0 {
            return 0;
        }
        if q >= 1.0 {
            return ceiling - 1;
        }
        // The answer is m - 1 for the smallest m with P(X >= m) <= 1 - q.
        let target = 1.0 - q;
        let z = Normal::standard().inverse_cdf(q);
        let clamp = |m: f64| m.round().clamp(1.0, ceiling as f64) as u64;
        let mut m = clamp(mean + z * sd + 1.0);
        // One whole tail, then each step moves it by the sum of the counts stepped over.
        let mut tail = self.upper_tail(m);
        for _ in 0..NEWTON_STEPS {
            let pmf = self.ln_pmf(m as f64).exp();
            let next = if m >= ceiling || pmf <= 0.0 {
                // Beyond the support or where the pmf underflows: halve the way to the mean.
                clamp(0.5 * (m as f64 + mean))
            } else {
                clamp(m as f64 + (tail - target) / pmf)
            };
            if next == m {
                break;
            }
            let (low, high) = (m.min(next), m.max(next).min(ceiling));
            let between = if low >= high {
                0.0
            } else {
                (self.ln_pmf(low as f64) + run_ratio(self, low, high - 1).ln()).exp()
            };
            tail = if next > m {
                tail - between
            } else {
                tail + between
            }
            .clamp(0.0, 1.0);
            m = next;
        }
        if tail > target {
            let mut pmf = self.ln_pmf(m as f64).exp();
            while tail > target && m < ceiling {
                tail -= pmf;
                pmf *= self.ratio(m as f64);
                m += 1;
            }
        } else {
            while m > 1 {
                let below = self.ln_pmf((m - 1) as f64).exp();
                if tail + below > target {
                    break;
                }
                tail += below;
                m -= 1;
            }
        }
        m - 1
    }
}

/// `Σ_{j >= x} pmf(j) / pmf(x)`.
fn tail_ratio<D: Count + ?Sized>(d: &D, x: u64) -> f64 {
    run_ratio(d, x, d.last().unwrap_or(u64::MAX))
}

/// `Σ_{j = from}^{to} pmf(j) / pmf(from)`, ending early where the terms have become negligible:
/// term by term for the first [`EXACT_TERMS`], then integrated.
fn run_ratio<D: Count + ?Sized>(d: &D, from: u64, to: u64) -> f64 {
    let stop = from.saturating_add(EXACT_TERMS).min(to);
    let (mut sum, mut term, mut j) = (1.0_f64, 1.0_f64, from);
    while j < stop {
        term *= d.ratio(j as f64);
        j += 1;
        sum += term;
        if term < sum * NEGLIGIBLE {
            return sum;
        }
    }
    if j >= to {
        return sum;
    }
    // The terms after j by Euler–Maclaurin over [j, end]:
    //   Σ_{i=j}^{end} f(i) = ∫ f + (f(j) + f(end)) / 2 + (f'(end) - f'(j)) / 12
    //                        - (f'''(end) - f'''(j)) / 720 + …
    // with f = pmf / pmf(from), f' = f g' and f''' ≈ f g'³ (g = ln f; the slope's own change is
    // smaller by the squared width of the distribution), less f(j), already summed.
    let ln_at_from = d.ln_pmf(from as f64);
    let f = |t: f64| (d.ln_pmf(t) - ln_at_from).exp();
    let bound = to as f64;
    let sd = d.sd().max(1.0);
    let (mut integral, mut start, mut width) = (0.0_f64, j as f64, f64::INFINITY);
    loop {
        let slope = d.slope(start).abs().max(f64::MIN_POSITIVE);
        let (below, above) = d.room(start);
        width = (2.0 * width)
            .min(PANEL_EFOLDS / slope)
            .min(PANEL_SDS * sd)
            .min(below)
            .min(0.5 * above)
            .floor()
            .max(1.0);
        let end = (start + width).min(bound);
        let (half, centre) = (0.5 * (end - start), 0.5 * (end + start));
        let panel = half
            * GAUSS_LEGENDRE_8
                .iter()
                .map(|&(node, weight)| weight * (f(centre - half * node) + f(centre + half * node)))
                .sum::<f64>();
        integral += panel;
        start = end;
        if end >= bound || panel < (sum + integral) * NEGLIGIBLE {
            break;
        }
    }
    let edge = |t: f64, f_t: f64| {
        let g = d.slope(t);
        f_t * (0.5 + g / 12.0 - g * g * g / 720.0)
    };
    let (at_j, at_end) = (edge(j as f64, term), edge(start, f(start)));
    sum + integral + at_end - at_j
}

/// `BetaBinomial(n, a, b)`: the report count of an account with `n` tasks drawn from a cohort
/// whose report rates follow `Beta(a, b)`.
struct BetaBinomial {
    n: f64,
    a: f64,
    b: f64,
    /// `ln C(n, ·) B(· + a, n - · + b) / B(a, b)` without the terms that depend on the count.
    ln_constant: f64,
}

impl BetaBinomial {
    fn new(n: u64, a: f64, b: f64) -> Self {
        let n = n as f64;
        Self {
            n,
            a,
            b,
            ln_constant: ln_gamma(n + 1.0) - ln_gamma(n + a + b) + ln_gamma(a + b)
                - ln_gamma(a)
                - ln_gamma(b),
        }
    }
}

impl Count for BetaBinomial {
    fn ln_pmf(&self, t: f64) -> f64 {
        let rest = self.n - t;
        self.ln_constant + ln_gamma_fast(t + self.a) - ln_gamma_fast(t + 1.0)
            + ln_gamma_fast(rest + self.b)
            - ln_gamma_fast(rest + 1.0)
    }

    fn slope(&self, t: f64) -> f64 {
        let rest = self.n - t;
        digamma_fast(t + self.a) - digamma_fast(t + 1.0) - digamma_fast(rest + self.b)
            + digamma_fast(rest + 1.0)
    }

    fn ratio(&self, k: f64) -> f64 {
        (self.n - k) / (k + 1.0) * (k + self.a) / (self.n - k - 1.0 + self.b)
    }

    fn room(&self, t: f64) -> (f64, f64) {
        (t + self.a.min(1.0), self.n - t + self.b.min(1.0))
    }

    fn last(&self) -> Option<u64> {
        Some(self.n as u64)
    }

    fn mean(&self) -> f64 {
        self.n * self.a / (self.a + self.b)
    }

    fn sd(&self) -> f64 {
        let s = self.a + self.b;
        (self.n * self.a * self.b * (s + self.n) / (s * s * (s + 1.0))).sqrt()
    }
}

/// `NegativeBinomial(r, p)`, `pmf(k) = C(k + r - 1, k) p^r (1 - p)^k`: the predictive
/// distribution of a Poisson count whose rate has a Gamma posterior.
struct NegativeBinomial {
    r: f64,
    p: f64,
    ln_constant: f64,
    ln_fail: f64,
}

impl NegativeBinomial {
    fn new(r: f64, p: f64) -> Self {
        Self {
            r,
            p,
            ln_constant: r * p.ln() - ln_gamma(r),
            ln_fail: (1.0 - p).ln(),
        }
    }
}

impl Count for NegativeBinomial {
    fn ln_pmf(&self, t: f64) -> f64 {
        self.ln_constant + ln_gamma_fast(t + self.r) - ln_gamma_fast(t + 1.0) + t * self.ln_fail
    }

    fn slope(&self, t: f64) -> f64 {
        digamma_fast(t + self.r) - digamma_fast(t + 1.0) + self.ln_fail
    }

    fn ratio(&self, k: f64) -> f64 {
        (k + self.r) / (k + 1.0) * (1.0 - self.p)
    }

    fn room(&self, t: f64) -> (f64, f64) {
        (t + self.r.min(1.0), f64::INFINITY)
    }

    fn last(&self) -> Option<u64> {
        None
    }

    fn mean(&self) -> f64 {
        self.r * (1.0 - self.p) / self.p
    }

    fn sd(&self) -> f64 {
        (self.r * (1.0 - self.p)).sqrt() / self.p
    }
}

/// The smallest `k` with `P(X <= k) >= q` for `X ~ BetaBinomial(n, a, b)`: how many reports in
/// `n` tasks the cohort's accounts stay within with probability `q`, its spread and chance
/// together.
pub fn betabinom_quantile(q: f64, n: u64, a: f64, b: f64) -> u64 {
    if n == 0 {
        return 0;
    }
    BetaBinomial::new(n, a, b).quantile(q)
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
    let d = BetaBinomial::new(n, a, b);
    if (x as f64) <= d.mean() {
        return 1.0;
    }
    d.upper_tail(x)
}

/// `P(X >= x)` for `X ~ NegativeBinomial(r, p)`. Returns 1 for counts at or below the mean.
pub fn negbin_upper_tail(x: u64, r: f64, p: f64) -> f64 {
    let d = NegativeBinomial::new(r, p);
    if x == 0 || (x as f64) <= d.mean() {
        return 1.0;
    }
    d.upper_tail(x)
}

/// The smallest `k` with `P(X <= k) >= q` for `X ~ NegativeBinomial(r, p)`.
pub fn negbin_quantile(q: f64, r: f64, p: f64) -> u64 {
    NegativeBinomial::new(r, p).quantile(q)
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

    /// The whole tail summed term by term until the terms vanish, however long that takes: what
    /// the integrated tails are held to.
    fn summed_tail<D: Count>(d: &D, x: u64) -> f64 {
        let last = d.last().unwrap_or(u64::MAX);
        let (mut sum, mut term, mut j) = (1.0_f64, 1.0_f64, x);
        while j < last {
            term *= d.ratio(j as f64);
            j += 1;
            sum += term;
            if term < sum * NEGLIGIBLE {
                break;
            }
        }
        (d.ln_pmf(x as f64) + sum.ln()).exp()
    }

    /// The quantile by walking the summed cdf from 0: slow, and plainly right.
    fn walked_quantile<D: Count>(d: &D, q: f64) -> u64 {
        let mut k = d.mean() as u64;
        // Start below the bulk's lower edge, where the cdf is negligible, or at 0.
        k = k.saturating_sub((12.0 * d.sd()) as u64 + 20);
        let mut cdf = 1.0 - summed_tail(d, k + 1);
        let mut pmf = d.ln_pmf((k + 1) as f64).exp();
        while cdf < q {
            cdf += pmf;
            pmf *= d.ratio((k + 1) as f64);
            k += 1;
        }
        k
    }

    /// Both paths, the short sum and the integrated tail, agree with the whole sum: counts from
    /// inside the bulk to far out, in windows of 600 to a million tasks, for priors from spread
    /// (a < 1) to tight (a + b = 10,000), and cohort quantiles agree to the integer.
    #[test]
    fn beta_binomial_tails_and_quantiles_match_the_whole_sum() {
        let priors = [
            (0.7, 6.3),
            (2.0, 18.0),
            (10.0, 90.0),
            (100.0, 900.0),
            (1000.0, 9000.0),
        ];
        let mut worst = 0.0_f64;
        for n in [600_u64, 10_000, 1_000_000] {
            for (a, b) in priors {
                let d = BetaBinomial::new(n, a, b);
                for k in [-3.0, -0.5, 0.1, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0] {
                    let x = (d.mean() + k * d.sd()).max(0.0).ceil() as u64;
                    if x > n {
                        continue;
                    }
                    let (got, want) = (d.upper_tail(x), summed_tail(&d, x));
                    if want < 1e-300 {
                        continue;
                    }
                    let error = (got - want).abs() / want;
                    worst = worst.max(error);
                    assert!(error < 1e-7, "n={n} a={a} b={b} x={x}: {got:e} vs {want:e}");
                }
                for q in [0.01, 0.3, 0.5, 0.9, 0.99, 0.999] {
                    assert_eq!(
                        d.quantile(q),
                        walked_quantile(&d, q),
                        "q={q} n={n} a={a} b={b}"
                    );
                }
            }
        }
        assert!(worst > 0.0, "the cases exercise the approximation");
    }

    #[test]
    fn negative_binomial_tails_and_quantiles_match_the_whole_sum() {
        for r in [0.6, 2.5, 50.0, 5_000.0, 200_000.0] {
            for p in [0.02, 0.3, 0.5, 0.9] {
                let d = NegativeBinomial::new(r, p);
                for k in [0.1, 1.0, 3.0, 8.0, 16.0] {
                    let x = (d.mean() + k * d.sd()).ceil() as u64;
                    let (got, want) = (d.upper_tail(x), summed_tail(&d, x));
                    if want < 1e-300 {
                        continue;
                    }
                    assert!(
                        (got - want).abs() <= 1e-7 * want,
                        "r={r} p={p} x={x}: {got:e} vs {want:e}"
                    );
                }
                for q in [0.01, 0.5, 0.99, 0.999] {
                    assert_eq!(d.quantile(q), walked_quantile(&d, q), "q={q} r={r} p={p}");
                }
            }
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
