//! ES384 (ECDSA over P-384 with SHA-384, FIPS 186-4 / SEC 1) signature verification in
//! Montgomery form with 32-bit limbs, the same arithmetic as the RSA public operation.
//!
//! Why not the `p384` crate: its fiat-crypto field code is about 120 KB of the module for
//! an algorithm few IdPs use (module size is a target). Everything here handles public
//! values only (key, message, signature), so nothing needs constant time. Tested against
//! the `p384` crate's signatures (unit tests).

use sha2::{Digest, Sha384};

const L: usize = 12;
type Limbs = [u32; L];

/// The field prime p = 2^384 - 2^128 - 2^96 + 2^32 - 1.
const P: Modulus = Modulus {
    m: [
        0xffffffff, 0x00000000, 0x00000000, 0xffffffff, 0xfffffffe, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
        0xffffffff, 0xffffffff, 0xffffffff,
    ],
    r2: [
        0x00000001, 0xfffffffe, 0x00000000, 0x00000002, 0x00000000, 0xfffffffe, 0x00000000, 0x00000002, 0x00000001,
        0x00000000, 0x00000000, 0x00000000,
    ],
    n0inv: 0x1,
};

/// The group order n.
const N: Modulus = Modulus {
    m: [
        0xccc52973, 0xecec196a, 0x48b0a77a, 0x581a0db2, 0xf4372ddf, 0xc7634d81, 0xffffffff, 0xffffffff, 0xffffffff,
        0xffffffff, 0xffffffff, 0xffffffff,
    ],
    r2: [
        0x19b409a9, 0x2d319b24, 0xdf1aa419, 0xff3d81e5, 0xfcb82947, 0xbc3e483a, 0x4aab1cc5, 0xd40d4917, 0x28266895,
        0x3fb05b7a, 0x2b39bf21, 0x0c84ee01,
    ],
    n0inv: 0xe88fdc45,
};

const B: Limbs = [
    0xd3ec2aef, 0x2a85c8ed, 0x8a2ed19d, 0xc656398d, 0x5013875a, 0x0314088f, 0xfe814112, 0x181d9c6e, 0xe3f82d19,
    0x988e056b, 0xe23ee7e4, 0xb3312fa7,
];
const GX: Limbs = [
    0x72760ab7, 0x3a545e38, 0xbf55296c, 0x5502f25d, 0x82542a38, 0x59f741e0, 0x8ba79b98, 0x6e1d3b62, 0xf320ad74,
    0x8eb1c71e, 0xbe8b0537, 0xaa87ca22,
];
const GY: Limbs = [
    0x90ea0e5f, 0x7a431d7c, 0x1d7e819d, 0x0a60b1ce, 0xb5f0b8c0, 0xe9da3113, 0x289a147c, 0xf8f41dbd, 0x9292dc29,
    0x5d9e98bf, 0x96262c6f, 0x3617de4a,
];

/// An odd modulus of 384 bits prepared for Montgomery multiplication (R = 2^384).
struct Modulus {
    m: Limbs,
    /// R^2 mod m.
    r2: Limbs,
    /// -m^-1 mod 2^32.
    n0inv: u32,
}

fn geq(a: &Limbs, b: &Limbs) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

/// a + b, and the carry out.
fn add_raw(a: &Limbs, b: &Limbs) -> (Limbs, u32) {
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
fn sub_raw(a: &Limbs, b: &Limbs) -> (Limbs, u32) {
    let mut out = [0u32; L];
    let mut borrow = 0u64;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        let d = u64::from(*x).wrapping_sub(u64::from(*y)).wrapping_sub(borrow);
        *o = d as u32;
        borrow = (d >> 63) & 1;
    }
    (out, borrow as u32)
}

impl Modulus {
    /// a * b * R^-1 mod m (CIOS), for a, b < m.
    fn mul(&self, a: &Limbs, b: &Limbs) -> Limbs {
        let mut t = [0u32; L];
        let mut top = 0u32; // t[L]
        for bi in b {
            // t += a * b[i]
            let mut c = 0u64;
            for (tj, aj) in t.iter_mut().zip(a) {
                let s = u64::from(*tj) + u64::from(*aj) * u64::from(*bi) + c;
                *tj = s as u32;
                c = s >> 32;
            }
            let s = u64::from(top) + c;
            top = s as u32;
            let top2 = (s >> 32) as u32; // t[L + 1]
                                         // t = (t + m * modulus) / 2^32
            let m = t[0].wrapping_mul(self.n0inv);
            let mut c = 0u64;
            for (tj, mj) in t.iter_mut().zip(&self.m) {
                let s = u64::from(*tj) + u64::from(m) * u64::from(*mj) + c;
                *tj = s as u32;
                c = s >> 32;
            }
            let s = u64::from(top) + c;
            t.copy_within(1.., 0);
            t[L - 1] = s as u32;
            top = top2 + (s >> 32) as u32;
        }
        if top != 0 || geq(&t, &self.m) {
            t = sub_raw(&t, &self.m).0;
        }
        t
    }

    fn add(&self, a: &Limbs, b: &Limbs) -> Limbs {
        let (s, carry) = add_raw(a, b);
        if carry != 0 || geq(&s, &self.m) {
            sub_raw(&s, &self.m).0
        } else {
            s
        }
    }

    fn sub(&self, a: &Limbs, b: &Limbs) -> Limbs {
        let (d, borrow) = sub_raw(a, b);
        if borrow != 0 {
            add_raw(&d, &self.m).0
        } else {
            d
        }
    }

    fn to_mont(&self, a: &Limbs) -> Limbs {
        self.mul(a, &self.r2)
    }

    fn out_of_mont(&self, a: &Limbs) -> Limbs {
        self.mul(a, &ONE)
    }

    /// a^-1 (Montgomery form in and out) as a^(m-2): m is prime.
    fn invert(&self, a: &Limbs) -> Limbs {
        let mut e = self.m;
        e[0] -= 2; // m is odd and > 2: no borrow
        let mut acc = self.to_mont(&ONE);
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
}

const ONE: Limbs = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

fn from_be(bytes: &[u8]) -> Option<Limbs> {
    if bytes.len() != 4 * L {
        return None;
    }
    let mut out = [0u32; L];
    for (o, chunk) in out.iter_mut().zip(bytes.rchunks(4)) {
        *o = u32::from_be_bytes(chunk.try_into().ok()?);
    }
    Some(out)
}

fn is_zero(a: &Limbs) -> bool {
    a.iter().all(|l| *l == 0)
}

/// A point in Jacobian coordinates, Montgomery form; `z == 0` is the point at infinity.
#[derive(Clone, Copy)]
struct Point {
    x: Limbs,
    y: Limbs,
    z: Limbs,
}

impl Point {
    const INFINITY: Point = Point { x: [0; L], y: [0; L], z: [0; L] };

    fn affine(x: &Limbs, y: &Limbs) -> Point {
        Point { x: P.to_mont(x), y: P.to_mont(y), z: P.to_mont(&ONE) }
    }

    /// 2P for a = -3 (dbl-2001-b).
    fn double(&self) -> Point {
        if is_zero(&self.z) {
            return *self;
        }
        let delta = P.mul(&self.z, &self.z);
        let gamma = P.mul(&self.y, &self.y);
        let beta = P.mul(&self.x, &gamma);
        let t = P.mul(&P.sub(&self.x, &delta), &P.add(&self.x, &delta));
        let alpha = P.add(&P.add(&t, &t), &t);
        let beta4 = P.add(&P.add(&beta, &beta), &P.add(&beta, &beta));
        let beta8 = P.add(&beta4, &beta4);
        let x3 = P.sub(&P.mul(&alpha, &alpha), &beta8);
        let yz = P.add(&self.y, &self.z);
        let z3 = P.sub(&P.sub(&P.mul(&yz, &yz), &gamma), &delta);
        let g2 = P.mul(&gamma, &gamma);
        let g4 = P.add(&g2, &g2);
        let g8 = P.add(&P.add(&g4, &g4), &P.add(&g4, &g4));
        let y3 = P.sub(&P.mul(&alpha, &P.sub(&beta4, &x3)), &g8);
        Point { x: x3, y: y3, z: z3 }
    }

    /// P + Q (add-2007-bl), every case: either at infinity, equal, or opposite.
    fn add(&self, q: &Point) -> Point {
        if is_zero(&self.z) {
            return *q;
        }
        if is_zero(&q.z) {
            return *self;
        }
        let z1z1 = P.mul(&self.z, &self.z);
        let z2z2 = P.mul(&q.z, &q.z);
        let u1 = P.mul(&self.x, &z2z2);
        let u2 = P.mul(&q.x, &z1z1);
        let s1 = P.mul(&P.mul(&self.y, &q.z), &z2z2);
        let s2 = P.mul(&P.mul(&q.y, &self.z), &z1z1);
        let h = P.sub(&u2, &u1);
        let r = P.sub(&s2, &s1);
        if is_zero(&h) {
            return if is_zero(&r) { self.double() } else { Point::INFINITY };
        }
        let h2 = P.add(&h, &h);
        let i = P.mul(&h2, &h2);
        let j = P.mul(&h, &i);
        let r = P.add(&r, &r);
        let v = P.mul(&u1, &i);
        let x3 = P.sub(&P.sub(&P.mul(&r, &r), &j), &P.add(&v, &v));
        let s1j = P.mul(&s1, &j);
        let y3 = P.sub(&P.mul(&r, &P.sub(&v, &x3)), &P.add(&s1j, &s1j));
        let zz = P.add(&self.z, &q.z);
        let z3 = P.mul(&P.sub(&P.sub(&P.mul(&zz, &zz), &z1z1), &z2z2), &h);
        Point { x: x3, y: y3, z: z3 }
    }
}

/// A P-384 public key: a point on the curve (checked when made).
#[derive(Clone, Copy)]
pub struct PublicKey {
    point: Point,
}

impl PublicKey {
    /// From the JWK's `x` and `y` (48 bytes each, big-endian). `None` unless the point is
    /// on the curve with both coordinates below p.
    pub fn from_xy(x: &[u8], y: &[u8]) -> Option<PublicKey> {
        let (x, y) = (from_be(x)?, from_be(y)?);
        if geq(&x, &P.m) || geq(&y, &P.m) {
            return None;
        }
        let (xm, ym) = (P.to_mont(&x), P.to_mont(&y));
        // y^2 = x^3 - 3x + b
        let rhs = P.sub(&P.mul(&P.mul(&xm, &xm), &xm), &P.add(&P.add(&xm, &xm), &xm));
        let rhs = P.add(&rhs, &P.to_mont(&B));
        if P.mul(&ym, &ym) != rhs {
            return None;
        }
        Some(PublicKey { point: Point::affine(&x, &y) })
    }

    /// Verifies a JWS ES384 signature (r || s, 48 bytes each) over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let (Some(r), Some(s)) = (sig.get(..4 * L).and_then(from_be), sig.get(4 * L..).and_then(from_be)) else {
            return false;
        };
        if is_zero(&r) || is_zero(&s) || geq(&r, &N.m) || geq(&s, &N.m) {
            return false;
        }
        let Some(mut e) = from_be(&Sha384::digest(msg)) else { return false };
        if geq(&e, &N.m) {
            e = sub_raw(&e, &N.m).0;
        }
        let w = N.invert(&N.to_mont(&s));
        let u1 = N.out_of_mont(&N.mul(&N.to_mont(&e), &w));
        let u2 = N.out_of_mont(&N.mul(&N.to_mont(&r), &w));
        let g = Point::affine(&GX, &GY);
        let gq = g.add(&self.point);
        let mut acc = Point::INFINITY;
        for (l1, l2) in u1.iter().rev().zip(u2.iter().rev()) {
            for k in (0..32).rev() {
                acc = acc.double();
                match ((l1 >> k) & 1, (l2 >> k) & 1) {
                    (1, 1) => acc = acc.add(&gq),
                    (1, 0) => acc = acc.add(&g),
                    (0, 1) => acc = acc.add(&self.point),
                    _ => {}
                }
            }
        }
        if is_zero(&acc.z) {
            return false;
        }
        // x = X / Z^2, reduced mod n.
        let zinv = P.invert(&acc.z);
        let mut x = P.out_of_mont(&P.mul(&acc.x, &P.mul(&zinv, &zinv)));
        if geq(&x, &N.m) {
            x = sub_raw(&x, &N.m).0;
        }
        x == r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p384::ecdsa::signature::Signer;

    fn key(seed: u8) -> (p384::ecdsa::SigningKey, PublicKey) {
        let sk = p384::ecdsa::SigningKey::from_slice(&[seed; 48]).unwrap();
        let p = sk.verifying_key().to_encoded_point(false);
        let pk = PublicKey::from_xy(p.x().unwrap(), p.y().unwrap()).unwrap();
        (sk, pk)
    }

    #[test]
    fn verifies_the_p384_crates_signatures_and_nothing_else() {
        for seed in [1u8, 9, 77, 200] {
            let (sk, pk) = key(seed);
            for msg in [&b"header.payload"[..], b"", &[0xffu8; 300]] {
                let sig: p384::ecdsa::Signature = sk.sign(msg);
                let bytes = sig.to_bytes();
                assert!(pk.verify(msg, &bytes), "seed {seed}");
                assert!(!pk.verify(b"another message", &bytes));
                for i in (0..96).step_by(7) {
                    let mut bad = bytes.to_vec();
                    bad[i] ^= 0x10;
                    assert!(!pk.verify(msg, &bad), "bit flip at {i}");
                }
            }
            let (_, other) = key(seed.wrapping_add(1));
            let sig: p384::ecdsa::Signature = sk.sign(b"m");
            assert!(!other.verify(b"m", &sig.to_bytes()), "another key");
        }
    }

    #[test]
    fn refuses_bad_signatures_and_points() {
        let (sk, pk) = key(5);
        let sig: p384::ecdsa::Signature = sk.sign(b"m");
        let bytes = sig.to_bytes();
        assert!(!pk.verify(b"m", &bytes[..95]), "short");
        assert!(!pk.verify(b"m", &[0u8; 96]), "r = s = 0");
        let mut n_as_r = bytes.to_vec();
        let n_be: Vec<u8> = N.m.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
        n_as_r[..48].copy_from_slice(&n_be);
        assert!(!pk.verify(b"m", &n_as_r), "r = n");
        let gx: Vec<u8> = GX.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
        let gy: Vec<u8> = GY.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
        assert!(PublicKey::from_xy(&gx, &gy).is_some(), "the generator is on the curve");
        let mut off = gy.clone();
        off[47] ^= 1;
        assert!(PublicKey::from_xy(&gx, &off).is_none(), "a point off the curve");
        assert!(PublicKey::from_xy(&gx[1..], &gy).is_none(), "short coordinate");
        let p_be: Vec<u8> = P.m.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
        assert!(PublicKey::from_xy(&p_be, &gy).is_none(), "x = p");
    }
}
