//! ECDSA signature verification over P-256 (ES256) and P-384 (ES384) with SHA-256 and
//! SHA-384 (FIPS 186-4 / SEC 1), in Montgomery form with 32-bit limbs, the same
//! arithmetic as the RSA public operation.
//!
//! u1 G + u2 Q is one pass of doublings over both scalars, each cut in four segments of
//! 8L bits (`SEGMENTS`) written as width-w NAFs (digits 0 or odd, few of them non-zero),
//! adding an affine odd multiple for each non-zero digit with the mixed addition: the
//! multiples up to 63 of G, 2^(8L) G, 2^(16L) G and 2^(24L) G are made once per process,
//! those up to 15 of Q and its shifts at each key's first verification. The result's x is
//! compared with r without an inversion (X == r Z^2, or (r + n) Z^2). ES256 in V8:
//! 663 -> 114 us per verification (ES384 1805 -> 330 us) against the plain
//! double-and-add this replaces.
//!
//! Why not the `p256` and `p384` crates: in wasm (V8) the `p256` crate took about 1 ms per
//! ES256 verification, several times this code, and `p384`'s fiat-crypto field code was
//! about 120 KB of the module. Everything here handles public values only (key, message,
//! signature), so nothing needs constant time. Tested against both crates' signatures
//! (unit tests).

use super::limbs::mac;
use sha2::{Digest, Sha256, Sha384};
use std::cell::OnceCell;
use std::sync::OnceLock;

type Limbs<const L: usize> = [u32; L];

/// A short-Weierstrass curve with a = -3 over a prime field, and its group order.
pub struct Curve<const L: usize> {
    p: Modulus<L>,
    n: Modulus<L>,
    b: Limbs<L>,
    gx: Limbs<L>,
    gy: Limbs<L>,
    /// The hash of ES256 / ES384, as long as the field.
    hash: fn(&[u8]) -> Vec<u8>,
    /// G, 3G, 5G, ... 63G (affine, Montgomery form), and the same for 2^(8L) G, 2^(16L) G
    /// and 2^(24L) G: made once, when the first key on the curve is read.
    g_table: OnceLock<Tables<L, G_POINTS>>,
}

/// Width of the NAF digits of u1, the generator's scalar (its odd multiples up to
/// 63G are kept, once per process), and of u2, the key's (up to 15Q, kept with each key).
const G_WIDTH: u32 = 7;
const G_POINTS: usize = 1 << (G_WIDTH - 2);
const Q_WIDTH: u32 = 5;
const Q_POINTS: usize = 1 << (Q_WIDTH - 2);
/// A scalar u is cut in SEGMENTS parts of 8L bits (64 for P-256, 96 for P-384):
/// u P = u_0 P + u_1 (2^(8L) P) + u_2 (2^(16L) P) + u_3 (2^(24L) P), so that with a table
/// for each of the four points the double-scalar multiplication makes 8L doublings, not
/// 32L, and as many additions as before.
const SEGMENTS: usize = 4;
/// NAF digits of a segment below 2^96, the longest (one more than its bits).
const MAX_SEGMENT_DIGITS: usize = 8 * 12 + 1;
/// The odd multiples of a point and of its three shifts (`SEGMENTS`).
type Tables<const L: usize, const N: usize> = [[Affine<L>; N]; SEGMENTS];

fn sha256(m: &[u8]) -> Vec<u8> {
    Sha256::digest(m).to_vec()
}

fn sha384(m: &[u8]) -> Vec<u8> {
    Sha384::digest(m).to_vec()
}

pub static P256: Curve<8> = Curve {
    p: Modulus {
        m: P256_P,
        r2: [0x00000003, 0x00000000, 0xffffffff, 0xfffffffb, 0xfffffffe, 0xffffffff, 0xfffffffd, 0x00000004],
        n0inv: 0x1,
        fixed: Some(mul_p256_p),
    },
    n: Modulus {
        m: [0xfc632551, 0xf3b9cac2, 0xa7179e84, 0xbce6faad, 0xffffffff, 0xffffffff, 0x00000000, 0xffffffff],
        r2: [0xbe79eea2, 0x83244c95, 0x49bd6fa6, 0x4699799c, 0x2b6bec59, 0x2845b239, 0xf3d95620, 0x66e12d94],
        n0inv: 0xee00bc4f,
        fixed: None,
    },
    b: [0x27d2604b, 0x3bce3c3e, 0xcc53b0f6, 0x651d06b0, 0x769886bc, 0xb3ebbd55, 0xaa3a93e7, 0x5ac635d8],
    gx: [0xd898c296, 0xf4a13945, 0x2deb33a0, 0x77037d81, 0x63a440f2, 0xf8bce6e5, 0xe12c4247, 0x6b17d1f2],
    gy: [0x37bf51f5, 0xcbb64068, 0x6b315ece, 0x2bce3357, 0x7c0f9e16, 0x8ee7eb4a, 0xfe1a7f9b, 0x4fe342e2],
    hash: sha256,
    g_table: OnceLock::new(),
};

pub static P384: Curve<12> = Curve {
    p: Modulus {
        m: P384_P,
        r2: [
            0x00000001, 0xfffffffe, 0x00000000, 0x00000002, 0x00000000, 0xfffffffe, 0x00000000, 0x00000002, 0x00000001,
            0x00000000, 0x00000000, 0x00000000,
        ],
        n0inv: 0x1,
        fixed: Some(mul_p384_p),
    },
    n: Modulus {
        m: [
            0xccc52973, 0xecec196a, 0x48b0a77a, 0x581a0db2, 0xf4372ddf, 0xc7634d81, 0xffffffff, 0xffffffff, 0xffffffff,
            0xffffffff, 0xffffffff, 0xffffffff,
        ],
        r2: [
            0x19b409a9, 0x2d319b24, 0xdf1aa419, 0xff3d81e5, 0xfcb82947, 0xbc3e483a, 0x4aab1cc5, 0xd40d4917, 0x28266895,
            0x3fb05b7a, 0x2b39bf21, 0x0c84ee01,
        ],
        n0inv: 0xe88fdc45,
        fixed: None,
    },
    b: [
        0xd3ec2aef, 0x2a85c8ed, 0x8a2ed19d, 0xc656398d, 0x5013875a, 0x0314088f, 0xfe814112, 0x181d9c6e, 0xe3f82d19,
        0x988e056b, 0xe23ee7e4, 0xb3312fa7,
    ],
    gx: [
        0x72760ab7, 0x3a545e38, 0xbf55296c, 0x5502f25d, 0x82542a38, 0x59f741e0, 0x8ba79b98, 0x6e1d3b62, 0xf320ad74,
        0x8eb1c71e, 0xbe8b0537, 0xaa87ca22,
    ],
    gy: [
        0x90ea0e5f, 0x7a431d7c, 0x1d7e819d, 0x0a60b1ce, 0xb5f0b8c0, 0xe9da3113, 0x289a147c, 0xf8f41dbd, 0x9292dc29,
        0x5d9e98bf, 0x96262c6f, 0x3617de4a,
    ],
    hash: sha384,
    g_table: OnceLock::new(),
};

/// An odd modulus prepared for Montgomery multiplication (R = 2^(32 L)).
struct Modulus<const L: usize> {
    m: Limbs<L>,
    /// R^2 mod m.
    r2: Limbs<L>,
    /// -m^-1 mod 2^32.
    n0inv: u32,
    /// The multiplication with m written into the code, where there is one.
    fixed: Option<fn(&Limbs<L>, &Limbs<L>) -> Limbs<L>>,
}

/// a * b * R^-1 mod m (CIOS), for a, b < m. The division by 2^32 of each row is folded
/// into the reduction's loop (no separate shift of the limbs). Inlined where m is a
/// constant (the field primes, [`Modulus::fixed`]).
#[inline(always)]
fn mont_mul<const L: usize>(a: &Limbs<L>, b: &Limbs<L>, m: &Limbs<L>, n0inv: u32) -> Limbs<L> {
    let mut t = [0u32; L];
    let mut top = 0u32; // t[L]
    let m0 = m.first().copied().unwrap_or(1);
    for bi in b {
        let c = mac(&mut t, a, *bi); // t += a * b[i]
        let s = u64::from(top) + c;
        top = s as u32;
        // t[L + 1]; then t = (t + q * m) / 2^32.
        let top2 = (s >> 32) as u32;
        let t0 = t.first().copied().unwrap_or(0);
        let q = u64::from(t0.wrapping_mul(n0inv));
        let mut c = (u64::from(t0) + q * u64::from(m0)) >> 32;
        for j in 1..L {
            let s = u64::from(t.get(j).copied().unwrap_or(0)) + q * u64::from(m.get(j).copied().unwrap_or(0)) + c;
            if let Some(slot) = t.get_mut(j - 1) {
                *slot = s as u32;
            }
            c = s >> 32;
        }
        let s = u64::from(top) + c;
        if let Some(last) = t.last_mut() {
            *last = s as u32;
        }
        top = top2 + (s >> 32) as u32;
    }
    if top != 0 || geq(&t, m) {
        t = sub_raw(&t, m).0;
    }
    t
}

/// The two curves' primes have limbs of 0, 1 and 2^32 - 1 only, and -p^-1 mod 2^32 = 1:
/// with them written into the code, the reduction's multiplications fold into shifts and
/// additions (ES256 268 -> 228 us, ES384 820 -> 682 us in V8).
const P256_P: Limbs<8> =
    [0xffffffff, 0xffffffff, 0xffffffff, 0x00000000, 0x00000000, 0x00000000, 0x00000001, 0xffffffff];
const P384_P: Limbs<12> = [
    0xffffffff, 0x00000000, 0x00000000, 0xffffffff, 0xfffffffe, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
    0xffffffff, 0xffffffff, 0xffffffff,
];

fn mul_p256_p(a: &Limbs<8>, b: &Limbs<8>) -> Limbs<8> {
    mont_mul(a, b, &P256_P, 1)
}

fn mul_p384_p(a: &Limbs<12>, b: &Limbs<12>) -> Limbs<12> {
    mont_mul(a, b, &P384_P, 1)
}

fn geq<const L: usize>(a: &Limbs<L>, b: &Limbs<L>) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

/// a + b, and the carry out.
fn add_raw<const L: usize>(a: &Limbs<L>, b: &Limbs<L>) -> (Limbs<L>, u32) {
    let mut out = [0u32; L];
    let mut carry = 0u64;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        let s = u64::from(*x) + u64::from(*y) + carry;
        *o = s as u32;
        carry = s >> 32;
    }
    (out, carry as u32)
}

/// a - b, and the borrow out.
fn sub_raw<const L: usize>(a: &Limbs<L>, b: &Limbs<L>) -> (Limbs<L>, u32) {
    let mut out = [0u32; L];
    let mut borrow = 0u64;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        let d = u64::from(*x).wrapping_sub(u64::from(*y)).wrapping_sub(borrow);
        *o = d as u32;
        borrow = (d >> 63) & 1;
    }
    (out, borrow as u32)
}

impl<const L: usize> Modulus<L> {
    /// a * b * R^-1 mod m, for a, b < m.
    fn mul(&self, a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        match self.fixed {
            Some(fixed) => fixed(a, b),
            None => mont_mul(a, b, &self.m, self.n0inv),
        }
    }

    fn add(&self, a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        let (s, carry) = add_raw(a, b);
        if carry != 0 || geq(&s, &self.m) {
            sub_raw(&s, &self.m).0
        } else {
            s
        }
    }

    fn sub(&self, a: &Limbs<L>, b: &Limbs<L>) -> Limbs<L> {
        let (d, borrow) = sub_raw(a, b);
        if borrow != 0 {
            add_raw(&d, &self.m).0
        } else {
            d
        }
    }

    fn to_mont(&self, a: &Limbs<L>) -> Limbs<L> {
        self.mul(a, &self.r2)
    }

    fn out_of_mont(&self, a: &Limbs<L>) -> Limbs<L> {
        self.mul(a, &one())
    }

    /// a^-1 (Montgomery form in and out) as a^(m-2): m is prime.
    fn invert(&self, a: &Limbs<L>) -> Limbs<L> {
        let mut e = self.m;
        if let Some(low) = e.first_mut() {
            *low -= 2; // m is odd and > 2: no borrow
        }
        let mut acc = self.to_mont(&one());
        for limb in e.iter().rev() {
            for k in (0..32).rev() {
                acc = self.mul(&acc, &acc);
                if (limb >> k) & 1 == 1 {
                    acc = self.mul(&acc, a);
                }
            }
        }
        acc
    }

    /// a^-1 mod m for a plain (not Montgomery) 0 < a < m, by the binary extended Euclidean
    /// algorithm: variable time, for public values only (s of a signature), about a third
    /// of [`Modulus::invert`]'s time. Keeps x1 a == u and x2 a == v (mod m) while u and v
    /// fall to gcd(a, m) = 1. `None` if a is 0 or shares a factor with m (never for a
    /// prime m and 0 < a < m).
    fn inverse(&self, a: &Limbs<L>) -> Option<Limbs<L>> {
        let (mut u, mut v) = (*a, self.m);
        let (mut x1, mut x2) = (one::<L>(), [0u32; L]);
        // Each round halves u or v at least once: at most 2 * 32 L of them.
        for _ in 0..=64 * L {
            if is_one(&u) {
                return Some(x1);
            }
            if is_one(&v) {
                return Some(x2);
            }
            if is_zero(&u) || is_zero(&v) {
                return None;
            }
            while is_even(&u) {
                u = shr1(&u, 0);
                x1 = self.half(&x1);
            }
            while is_even(&v) {
                v = shr1(&v, 0);
                x2 = self.half(&x2);
            }
            if geq(&u, &v) {
                u = sub_raw(&u, &v).0;
                x1 = self.sub(&x1, &x2);
            } else {
                v = sub_raw(&v, &u).0;
                x2 = self.sub(&x2, &x1);
            }
        }
        None
    }

    /// x / 2 mod m (m odd) for x < m.
    fn half(&self, x: &Limbs<L>) -> Limbs<L> {
        if is_even(x) {
            shr1(x, 0)
        } else {
            let (sum, carry) = add_raw(x, &self.m);
            shr1(&sum, carry)
        }
    }
}

fn is_one<const L: usize>(a: &Limbs<L>) -> bool {
    a.iter().enumerate().all(|(i, l)| *l == u32::from(i == 0))
}

fn is_even<const L: usize>(a: &Limbs<L>) -> bool {
    a.first().map_or(true, |l| l & 1 == 0)
}

/// (top_bit 2^(32 L) + a) / 2, for a top bit of 0 or 1.
fn shr1<const L: usize>(a: &Limbs<L>, top_bit: u32) -> Limbs<L> {
    let mut out = [0u32; L];
    let mut high = top_bit;
    for (o, x) in out.iter_mut().zip(a.iter()).rev() {
        *o = (x >> 1) | (high << 31);
        high = x & 1;
    }
    out
}

fn one<const L: usize>() -> Limbs<L> {
    let mut one = [0u32; L];
    if let Some(low) = one.first_mut() {
        *low = 1;
    }
    one
}

fn from_be<const L: usize>(bytes: &[u8]) -> Option<Limbs<L>> {
    if bytes.len() != 4 * L {
        return None;
    }
    let mut out = [0u32; L];
    for (o, chunk) in out.iter_mut().zip(bytes.rchunks(4)) {
        *o = u32::from_be_bytes(chunk.try_into().ok()?);
    }
    Some(out)
}

fn is_zero<const L: usize>(a: &Limbs<L>) -> bool {
    a.iter().all(|l| *l == 0)
}

/// A point in affine coordinates, Montgomery form; never the point at infinity.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Affine<const L: usize> {
    x: Limbs<L>,
    y: Limbs<L>,
}

impl<const L: usize> Affine<L> {
    /// -P: (x, p - y).
    fn neg(&self, p: &Modulus<L>) -> Affine<L> {
        Affine { x: self.x, y: p.sub(&[0; L], &self.y) }
    }
}

/// A point in Jacobian coordinates, Montgomery form; `z == 0` is the point at infinity.
#[derive(Clone, Copy)]
struct Point<const L: usize> {
    x: Limbs<L>,
    y: Limbs<L>,
    z: Limbs<L>,
}

impl<const L: usize> Point<L> {
    const INFINITY: Point<L> = Point { x: [0; L], y: [0; L], z: [0; L] };

    /// An affine point as a Jacobian one (`one`: 1 in Montgomery form).
    fn from_affine(a: &Affine<L>, one: &Limbs<L>) -> Point<L> {
        Point { x: a.x, y: a.y, z: *one }
    }

    /// 2P for a = -3 (dbl-2001-b).
    fn double(&self, p: &Modulus<L>) -> Point<L> {
        if is_zero(&self.z) {
            return *self;
        }
        let delta = p.mul(&self.z, &self.z);
        let gamma = p.mul(&self.y, &self.y);
        let beta = p.mul(&self.x, &gamma);
        let t = p.mul(&p.sub(&self.x, &delta), &p.add(&self.x, &delta));
        let alpha = p.add(&p.add(&t, &t), &t);
        let beta4 = p.add(&p.add(&beta, &beta), &p.add(&beta, &beta));
        let beta8 = p.add(&beta4, &beta4);
        let x3 = p.sub(&p.mul(&alpha, &alpha), &beta8);
        let yz = p.add(&self.y, &self.z);
        let z3 = p.sub(&p.sub(&p.mul(&yz, &yz), &gamma), &delta);
        let g2 = p.mul(&gamma, &gamma);
        let g4 = p.add(&g2, &g2);
        let g8 = p.add(&p.add(&g4, &g4), &p.add(&g4, &g4));
        let y3 = p.sub(&p.mul(&alpha, &p.sub(&beta4, &x3)), &g8);
        Point { x: x3, y: y3, z: z3 }
    }

    /// P + Q (add-2007-bl), every case: either at infinity, equal, or opposite.
    fn add(&self, q: &Point<L>, p: &Modulus<L>) -> Point<L> {
        if is_zero(&self.z) {
            return *q;
        }
        if is_zero(&q.z) {
            return *self;
        }
        let z1z1 = p.mul(&self.z, &self.z);
        let z2z2 = p.mul(&q.z, &q.z);
        let u1 = p.mul(&self.x, &z2z2);
        let u2 = p.mul(&q.x, &z1z1);
        let s1 = p.mul(&p.mul(&self.y, &q.z), &z2z2);
        let s2 = p.mul(&p.mul(&q.y, &self.z), &z1z1);
        let h = p.sub(&u2, &u1);
        let r = p.sub(&s2, &s1);
        if is_zero(&h) {
            return if is_zero(&r) { self.double(p) } else { Point::INFINITY };
        }
        let h2 = p.add(&h, &h);
        let i = p.mul(&h2, &h2);
        let j = p.mul(&h, &i);
        let r = p.add(&r, &r);
        let v = p.mul(&u1, &i);
        let x3 = p.sub(&p.sub(&p.mul(&r, &r), &j), &p.add(&v, &v));
        let s1j = p.mul(&s1, &j);
        let y3 = p.sub(&p.mul(&r, &p.sub(&v, &x3)), &p.add(&s1j, &s1j));
        let zz = p.add(&self.z, &q.z);
        let z3 = p.mul(&p.sub(&p.sub(&p.mul(&zz, &zz), &z1z1), &z2z2), &h);
        Point { x: x3, y: y3, z: z3 }
    }

    /// P + Q for an affine Q (madd-2007-bl: 7M + 4S against add-2007-bl's 11M + 5S),
    /// every case: P at infinity, equal to Q, or opposite.
    fn add_affine(&self, q: &Affine<L>, p: &Modulus<L>, one: &Limbs<L>) -> Point<L> {
        if is_zero(&self.z) {
            return Point::from_affine(q, one);
        }
        let z1z1 = p.mul(&self.z, &self.z);
        let u2 = p.mul(&q.x, &z1z1);
        let s2 = p.mul(&q.y, &p.mul(&self.z, &z1z1));
        let h = p.sub(&u2, &self.x);
        let r = p.sub(&s2, &self.y);
        if is_zero(&h) {
            return if is_zero(&r) { self.double(p) } else { Point::INFINITY };
        }
        let hh = p.mul(&h, &h);
        let hh2 = p.add(&hh, &hh);
        let i = p.add(&hh2, &hh2);
        let j = p.mul(&h, &i);
        let r = p.add(&r, &r);
        let v = p.mul(&self.x, &i);
        let x3 = p.sub(&p.sub(&p.mul(&r, &r), &j), &p.add(&v, &v));
        let y1j = p.mul(&self.y, &j);
        let y3 = p.sub(&p.mul(&r, &p.sub(&v, &x3)), &p.add(&y1j, &y1j));
        let zh = p.add(&self.z, &h);
        let z3 = p.sub(&p.sub(&p.mul(&zh, &zh), &z1z1), &hh);
        Point { x: x3, y: y3, z: z3 }
    }

    /// [`Point::odd_multiples`] of P, 2^(8L) P, 2^(16L) P and 2^(24L) P.
    fn segment_tables<const N: usize>(&self, p: &Modulus<L>) -> Option<Tables<L, N>> {
        let mut out = [[Affine { x: [0; L], y: [0; L] }; N]; SEGMENTS];
        let mut base = *self;
        for (i, table) in out.iter_mut().enumerate() {
            if i > 0 {
                for _ in 0..8 * L {
                    base = base.double(p);
                }
            }
            *table = base.odd_multiples::<N>(p)?;
        }
        Some(out)
    }

    /// `(2 i + 1) P` for i in 0..N, affine (one inversion for all: Montgomery's trick).
    /// `None` if one of them is the point at infinity (never for a point of the curve's
    /// prime order and N far below it).
    fn odd_multiples<const N: usize>(&self, p: &Modulus<L>) -> Option<[Affine<L>; N]> {
        let twice = self.double(p);
        let mut jac = [*self; N];
        let mut prev = *self;
        for slot in jac.iter_mut().skip(1) {
            prev = prev.add(&twice, p);
            *slot = prev;
        }
        // prefix[i] = z_0 * ... * z_i
        let mut prefix = [[0u32; L]; N];
        let mut acc = p.to_mont(&one());
        for (pre, pt) in prefix.iter_mut().zip(&jac) {
            acc = p.mul(&acc, &pt.z);
            *pre = acc;
        }
        if is_zero(&acc) {
            return None;
        }
        let mut inv = p.invert(&acc); // (z_0 * ... * z_i)^-1, walking down
        let mut out = [Affine { x: [0; L], y: [0; L] }; N];
        for (i, (o, pt)) in out.iter_mut().zip(&jac).enumerate().rev() {
            let zinv = match i.checked_sub(1).and_then(|k| prefix.get(k)) {
                Some(before) => p.mul(&inv, before),
                None => inv,
            };
            inv = p.mul(&inv, &pt.z);
            let z2 = p.mul(&zinv, &zinv);
            *o = Affine { x: p.mul(&pt.x, &z2), y: p.mul(&pt.y, &p.mul(&z2, &zinv)) };
        }
        Some(out)
    }
}

/// The width-`w` NAF of `k` (least significant digit first, `out.len()` digits, at least
/// one more than k's bits): every digit 0 or odd in -(2^(w-1) - 1)..=2^(w-1) - 1, any
/// `w` consecutive digits holding at most one that is not 0, and k = sum of d_i 2^i.
fn wnaf<const L: usize>(k: &Limbs<L>, w: u32, out: &mut [i8]) {
    let bits = |at: usize, count: usize| -> i32 {
        let mut v = 0i32;
        for j in 0..count {
            let i = at + j;
            let b = k.get(i / 32).map_or(0, |l| (l >> (i % 32)) & 1);
            v |= (b as i32) << j;
        }
        v
    };
    out.fill(0);
    let len = out.len();
    let mut carry = 0i32;
    let mut bit = 0usize;
    while bit < len {
        if bits(bit, 1) == carry {
            bit += 1;
            continue;
        }
        let now = (w as usize).min(len - bit);
        let mut word = bits(bit, now) + carry;
        carry = (word >> (w - 1)) & 1;
        word -= carry << w;
        if let Some(o) = out.get_mut(bit) {
            *o = word as i8;
        }
        bit += now;
    }
}

/// Segment `i` of `k` (`SEGMENTS` of them, 8L bits each) as a scalar of its own.
fn segment<const L: usize>(k: &Limbs<L>, i: usize) -> Limbs<L> {
    let per = L / SEGMENTS;
    let mut out = [0u32; L];
    if let (Some(dst), Some(src)) = (out.get_mut(..per), k.get(i * per..(i + 1) * per)) {
        dst.copy_from_slice(src);
    }
    out
}

/// The table entry for a NAF digit (odd, non-zero): `|d| P`, negated when d < 0.
fn pick<const L: usize>(table: &[Affine<L>], d: i8, p: &Modulus<L>) -> Option<Affine<L>> {
    let entry = table.get(usize::from(d.unsigned_abs() / 2))?;
    Some(if d < 0 { entry.neg(p) } else { *entry })
}

/// A public key on `P256` or `P384`: a point on the curve (checked when made), and the
/// odd multiples up to 15 of Q and of its three shifts (`SEGMENTS`) for the verification's
/// double-scalar multiplication (2 KB for P-256, 3 KB for P-384), made at the key's first
/// verification (not when the JWKS is read: an IdP's JWKS of thousands of EC keys would
/// otherwise cost about a verification's work each on every read).
#[derive(Clone)]
pub struct PublicKey<const L: usize> {
    curve: &'static Curve<L>,
    point: Affine<L>,
    /// Boxed: 8 bytes until the first verification (a JWKS of thousands of keys holds
    /// no table memory for keys never used).
    table: OnceCell<Box<Tables<L, Q_POINTS>>>,
}

pub type P256Key = PublicKey<8>;
pub type P384Key = PublicKey<12>;

impl<const L: usize> Curve<L> {
    /// G, 3G, ... 63G and the same for G's shifts, made on first use.
    fn g_table(&self) -> Option<&Tables<L, G_POINTS>> {
        if let Some(t) = self.g_table.get() {
            return Some(t);
        }
        let p = &self.p;
        let g = Point { x: p.to_mont(&self.gx), y: p.to_mont(&self.gy), z: p.to_mont(&one()) };
        let table = g.segment_tables::<G_POINTS>(p)?;
        Some(self.g_table.get_or_init(|| table))
    }
}

impl<const L: usize> PublicKey<L> {
    /// From the JWK's `x` and `y` (big-endian, each as long as the field). `None` unless
    /// the point is on the curve with both coordinates below p.
    pub fn from_xy(curve: &'static Curve<L>, x: &[u8], y: &[u8]) -> Option<PublicKey<L>> {
        let p = &curve.p;
        let (x, y) = (from_be::<L>(x)?, from_be::<L>(y)?);
        if geq(&x, &p.m) || geq(&y, &p.m) {
            return None;
        }
        let (xm, ym) = (p.to_mont(&x), p.to_mont(&y));
        // y^2 = x^3 - 3x + b
        let rhs = p.sub(&p.mul(&p.mul(&xm, &xm), &xm), &p.add(&p.add(&xm, &xm), &xm));
        let rhs = p.add(&rhs, &p.to_mont(&curve.b));
        if p.mul(&ym, &ym) != rhs {
            return None;
        }
        // The generator's table too (once per process), so that no request pays for it.
        curve.g_table()?;
        Some(PublicKey { curve, point: Affine { x: xm, y: ym }, table: OnceCell::new() })
    }

    /// Q, 3Q, ... 15Q and the same for Q's shifts, made on first use.
    fn table(&self) -> Option<&Tables<L, Q_POINTS>> {
        if let Some(t) = self.table.get() {
            return Some(t);
        }
        let p = &self.curve.p;
        let q = Point::from_affine(&self.point, &p.to_mont(&one()));
        let table = q.segment_tables::<Q_POINTS>(p)?;
        Some(self.table.get_or_init(|| Box::new(table)))
    }

    /// Verifies a JWS ECDSA signature (r || s, each as long as the field) over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let (p, n) = (&self.curve.p, &self.curve.n);
        let (Some(r), Some(s)) = (sig.get(..4 * L).and_then(from_be::<L>), sig.get(4 * L..).and_then(from_be::<L>))
        else {
            return false;
        };
        if is_zero(&r) || is_zero(&s) || geq(&r, &n.m) || geq(&s, &n.m) {
            return false;
        }
        // The hash is as long as the order: its integer, reduced once, is e.
        let Some(mut e) = from_be::<L>(&(self.curve.hash)(msg)) else { return false };
        if geq(&e, &n.m) {
            e = sub_raw(&e, &n.m).0;
        }
        let (Some(g_table), Some(q_table)) = (self.curve.g_table(), self.table()) else { return false };
        let Some(w) = n.inverse(&s) else { return false };
        let w = n.to_mont(&w);
        let u1 = n.out_of_mont(&n.mul(&n.to_mont(&e), &w));
        let u2 = n.out_of_mont(&n.mul(&n.to_mont(&r), &w));
        // u1 G + u2 Q as the sum over the segments of u1_i (2^(8L i) G) + u2_i (2^(8L i) Q):
        // one doubling per bit of a segment, an affine addition per non-zero NAF digit of
        // any of the eight scalars (Shamir's trick with windows).
        let digits = 8 * L + 1;
        let (mut d1, mut d2) = ([[0i8; MAX_SEGMENT_DIGITS]; SEGMENTS], [[0i8; MAX_SEGMENT_DIGITS]; SEGMENTS]);
        for (i, (a, b)) in d1.iter_mut().zip(d2.iter_mut()).enumerate() {
            let (Some(a), Some(b)) = (a.get_mut(..digits), b.get_mut(..digits)) else { return false };
            wnaf(&segment(&u1, i), G_WIDTH, a);
            wnaf(&segment(&u2, i), Q_WIDTH, b);
        }
        let scalars = d1.iter().zip(g_table.iter().map(|t| t.as_slice()));
        let scalars: Vec<_> = scalars.chain(d2.iter().zip(q_table.iter().map(|t| t.as_slice()))).collect();
        let one_m = p.to_mont(&one());
        let mut acc = Point::INFINITY;
        for j in (0..digits).rev() {
            acc = acc.double(p);
            for (d, table) in &scalars {
                let d = d.get(j).copied().unwrap_or(0);
                if d != 0 {
                    let Some(t) = pick(table, d, p) else { return false };
                    acc = acc.add_affine(&t, p, &one_m);
                }
            }
        }
        if is_zero(&acc.z) {
            return false;
        }
        // x(R) mod n == r, without an inversion: x(R) = X / Z^2 is below p, so it is r or,
        // when r + n < p, r + n. X == c Z^2 for either c.
        let z2 = p.mul(&acc.z, &acc.z);
        if p.mul(&p.to_mont(&r), &z2) == acc.x {
            return true;
        }
        let (rn, carry) = add_raw(&r, &n.m);
        carry == 0 && !geq(&rn, &p.m) && p.mul(&p.to_mont(&rn), &z2) == acc.x
    }
}

#[cfg(test)]
mod tests;
