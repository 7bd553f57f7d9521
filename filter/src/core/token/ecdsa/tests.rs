use super::*;
use p256::ecdsa::signature::Signer;

fn be<const L: usize>(limbs: &Limbs<L>) -> Vec<u8> {
    limbs.iter().rev().flat_map(|l| l.to_be_bytes()).collect()
}

fn p384_key(seed: u8) -> (p384::ecdsa::SigningKey, P384Key) {
    let sk = p384::ecdsa::SigningKey::from_slice(&[seed; 48]).unwrap();
    let pt = sk.verifying_key().to_encoded_point(false);
    (sk, PublicKey::from_xy(&P384, pt.x().unwrap(), pt.y().unwrap()).unwrap())
}

fn p256_key(seed: u8) -> (p256::ecdsa::SigningKey, P256Key) {
    let sk = p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap();
    let pt = sk.verifying_key().to_encoded_point(false);
    (sk, PublicKey::from_xy(&P256, pt.x().unwrap(), pt.y().unwrap()).unwrap())
}

#[test]
fn verifies_the_p256_and_p384_crates_signatures_and_nothing_else() {
    for seed in [1u8, 9, 77, 200] {
        let ((s3, k3), (s2, k2)) = (p384_key(seed), p256_key(seed));
        for msg in [&b"header.payload"[..], b"", &[0xffu8; 300]] {
            let sig3: p384::ecdsa::Signature = s3.sign(msg);
            let sig2: p256::ecdsa::Signature = s2.sign(msg);
            for (key_ok, bytes) in [
                (k3.verify(msg, &sig3.to_bytes()), sig3.to_bytes().to_vec()),
                (k2.verify(msg, &sig2.to_bytes()), sig2.to_bytes().to_vec()),
            ] {
                assert!(key_ok, "seed {seed}");
                let verify = |m: &[u8], s: &[u8]| if s.len() == 96 { k3.verify(m, s) } else { k2.verify(m, s) };
                assert!(!verify(b"another message", &bytes));
                for i in (0..bytes.len()).step_by(7) {
                    let mut bad = bytes.clone();
                    bad[i] ^= 0x10;
                    assert!(!verify(msg, &bad), "bit flip at {i}");
                }
            }
        }
        let (_, other) = p384_key(seed.wrapping_add(1));
        let sig: p384::ecdsa::Signature = s3.sign(b"m");
        assert!(!other.verify(b"m", &sig.to_bytes()), "another key");
        let (_, other) = p256_key(seed.wrapping_add(1));
        let sig: p256::ecdsa::Signature = s2.sign(b"m");
        assert!(!other.verify(b"m", &sig.to_bytes()), "another key");
    }
}

#[test]
fn refuses_bad_signatures_and_points() {
    let (sk, pk) = p384_key(5);
    let sig: p384::ecdsa::Signature = sk.sign(b"m");
    let bytes = sig.to_bytes();
    assert!(!pk.verify(b"m", &bytes[..95]), "short");
    assert!(!pk.verify(b"m", &[0u8; 96]), "r = s = 0");
    let mut n_as_r = bytes.to_vec();
    n_as_r[..48].copy_from_slice(&be(&P384.n.m));
    assert!(!pk.verify(b"m", &n_as_r), "r = n");
    let (gx, gy) = (be(&P384.gx), be(&P384.gy));
    assert!(PublicKey::from_xy(&P384, &gx, &gy).is_some(), "the generator is on the curve");
    let mut off = gy.clone();
    off[47] ^= 1;
    assert!(PublicKey::from_xy(&P384, &gx, &off).is_none(), "a point off the curve");
    assert!(PublicKey::from_xy(&P384, &gx[1..], &gy).is_none(), "short coordinate");
    assert!(PublicKey::from_xy(&P384, &be(&P384.p.m), &gy).is_none(), "x = p");
    let (gx, gy) = (be(&P256.gx), be(&P256.gy));
    assert!(PublicKey::from_xy(&P256, &gx, &gy).is_some());
    assert!(PublicKey::from_xy(&P256, &gy, &gx).is_none(), "x and y swapped: off the curve");
    let (sk, pk) = p256_key(5);
    let sig: p256::ecdsa::Signature = sk.sign(b"m");
    assert!(!pk.verify(b"m", &sig.to_bytes()[..63]), "short");
    let mut high_s = sig.to_bytes().to_vec();
    high_s[32..].copy_from_slice(&be(&P256.n.m));
    assert!(!pk.verify(b"m", &high_s), "s = n");
}

/// A small deterministic generator for the tests' scalars.
fn xorshift(state: &mut u64) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 16) as u32
}

/// `big += v * 2^shift` over 32-bit limbs (v < 2^8, the result fits).
fn add_shifted(big: &mut [u32], v: u32, shift: usize) {
    let mut carry = u64::from(v) << (shift % 32);
    for limb in big.iter_mut().skip(shift / 32) {
        let s = u64::from(*limb) + (carry & 0xffff_ffff);
        *limb = s as u32;
        carry = (carry >> 32) + (s >> 32);
    }
    assert_eq!(carry, 0);
}

fn check_wnaf<const L: usize>(k: &Limbs<L>, w: u32) {
    let mut digits = vec![0i8; 32 * L + 1];
    wnaf(k, w, &mut digits);
    // Odd, below 2^(w-1), and at most one non-zero digit in any w consecutive ones.
    let mut last: Option<usize> = None;
    for (i, d) in digits.iter().enumerate().filter(|(_, d)| **d != 0) {
        assert_eq!(d.rem_euclid(2), 1, "even digit {d} at {i}");
        assert!(i32::from(d.unsigned_abs()) < 1 << (w - 1), "digit {d} too large for width {w}");
        if let Some(j) = last {
            assert!(i - j >= w as usize, "digits at {j} and {i} closer than {w}");
        }
        last = Some(i);
    }
    // sum of the positive digits' d 2^i == k + sum of the negative ones' |d| 2^i.
    let (mut pos, mut neg) = (vec![0u32; L + 1], vec![0u32; L + 1]);
    for (i, d) in digits.iter().enumerate() {
        let big = if *d > 0 { &mut pos } else { &mut neg };
        add_shifted(big, u32::from(d.unsigned_abs()), i);
    }
    let mut rhs = neg;
    for (i, limb) in k.iter().enumerate() {
        for b in 0..32 {
            add_shifted(&mut rhs, (limb >> b) & 1, 32 * i + b);
        }
    }
    assert_eq!(pos, rhs, "width {w}, k {k:x?}");
}

#[test]
fn naf_digits_are_sparse_odd_and_sum_to_the_scalar() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut edge8: Vec<Limbs<8>> = vec![[0; 8], one(), [u32::MAX; 8], P256.n.m, [0x7f7f_7f7f; 8], [0xaaaa_aaaa; 8]];
    let mut top = [0u32; 8];
    top[7] = 1 << 31;
    edge8.push(top);
    for w in 2..=8 {
        for k in &edge8 {
            check_wnaf(k, w);
        }
        check_wnaf(&[u32::MAX; 12], w);
        check_wnaf(&P384.n.m, w);
        for _ in 0..300 {
            let k8: Limbs<8> = std::array::from_fn(|_| xorshift(&mut state));
            check_wnaf(&k8, w);
            let k12: Limbs<12> = std::array::from_fn(|_| xorshift(&mut state));
            check_wnaf(&k12, w);
        }
    }
}

fn check_segments<const L: usize>(k: &Limbs<L>) {
    // Segment i holds limbs i L/4 .. (i + 1) L/4 of k at the bottom, nothing above: put
    // back in place, the segments are k.
    let per = L / SEGMENTS;
    let mut back = [0u32; L];
    for i in 0..SEGMENTS {
        let seg = segment(k, i);
        assert!(seg[per..].iter().all(|l| *l == 0));
        back[i * per..(i + 1) * per].copy_from_slice(&seg[..per]);
    }
    assert_eq!(&back, k);
}

#[test]
fn segments_put_back_in_place_are_the_scalar() {
    let mut state = 0x5151_7e57_0d0d_f00du64;
    for _ in 0..200 {
        let k8: Limbs<8> = std::array::from_fn(|_| xorshift(&mut state));
        check_segments(&k8);
        let k12: Limbs<12> = std::array::from_fn(|_| xorshift(&mut state));
        check_segments(&k12);
    }
    check_segments(&[u32::MAX; 8]);
    check_segments(&[u32::MAX; 12]);
}

/// (X / Z^2, Y / Z^3), or `None` at infinity.
fn to_affine<const L: usize>(p: &Modulus<L>, pt: &Point<L>) -> Option<(Limbs<L>, Limbs<L>)> {
    if is_zero(&pt.z) {
        return None;
    }
    let zi = p.invert(&pt.z);
    let z2 = p.mul(&zi, &zi);
    Some((p.mul(&pt.x, &z2), p.mul(&pt.y, &p.mul(&z2, &zi))))
}

fn check_affine_addition<const L: usize>(curve: &Curve<L>) {
    let p = &curve.p;
    let one_m = p.to_mont(&one());
    let tables = curve.g_table().unwrap();
    let table = &tables[0];
    let g = Point::from_affine(&table[0], &one_m);
    // A few points far from G: 2^i G + G.
    let mut pts = vec![g];
    let mut acc = g;
    for _ in 0..5 {
        acc = acc.double(p).double(p).add(&g, p);
        pts.push(acc);
    }
    for a in &pts {
        for b in &pts {
            let b_aff = Affine { x: to_affine(p, b).unwrap().0, y: to_affine(p, b).unwrap().1 };
            let mixed = a.add_affine(&b_aff, p, &one_m);
            assert_eq!(to_affine(p, &mixed), to_affine(p, &a.add(b, p)), "P + Q");
            // P + (-P) is the point at infinity; infinity + Q is Q.
            let a_aff = Affine { x: to_affine(p, a).unwrap().0, y: to_affine(p, a).unwrap().1 };
            assert!(is_zero(&a.add_affine(&a_aff.neg(p), p, &one_m).z), "P - P");
            assert_eq!(to_affine(p, &Point::INFINITY.add_affine(&b_aff, p, &one_m)), Some((b_aff.x, b_aff.y)));
        }
    }
    // Each table is B, 3B, 5B, ... for B = 2^(8L i) G: its first entry is the one before's
    // doubled 8L times, and each entry is the one before plus 2B.
    let mut base = g;
    for (i, table) in tables.iter().enumerate() {
        if i > 0 {
            for _ in 0..8 * L {
                base = base.double(p);
            }
        }
        assert_eq!(to_affine(p, &base), Some((table[0].x, table[0].y)), "2^(8L {i}) G");
        let two_b = base.double(p);
        for pair in table.windows(2) {
            let next = Point::from_affine(&pair[0], &one_m).add(&two_b, p);
            assert_eq!(to_affine(p, &next), Some((pair[1].x, pair[1].y)));
        }
    }
}

#[test]
fn affine_addition_and_the_tables_agree_with_the_jacobian_arithmetic() {
    check_affine_addition(&P256);
    check_affine_addition(&P384);
}

#[test]
fn agrees_with_the_p256_and_p384_crates_on_many_keys() {
    let mut state = 0x0123_4567_89ab_cdefu64;
    for round in 0..24u32 {
        let seed: Vec<u8> = (0..48).map(|_| xorshift(&mut state) as u8).collect();
        let msg: Vec<u8> = (0..(round * 13) % 200).map(|_| xorshift(&mut state) as u8).collect();
        let s2 = p256::ecdsa::SigningKey::from_slice(&seed[..32]).unwrap();
        let pt = s2.verifying_key().to_encoded_point(false);
        let k2 = PublicKey::from_xy(&P256, pt.x().unwrap(), pt.y().unwrap()).unwrap();
        let s3 = p384::ecdsa::SigningKey::from_slice(&seed).unwrap();
        let pt = s3.verifying_key().to_encoded_point(false);
        let k3 = PublicKey::from_xy(&P384, pt.x().unwrap(), pt.y().unwrap()).unwrap();
        let sig2: p256::ecdsa::Signature = s2.sign(&msg);
        let sig3: p384::ecdsa::Signature = s3.sign(&msg);
        // A key's table is made at its first verification, not when it is read, and takes
        // no memory before (a 1 MiB JWKS holds thousands of keys).
        assert!(k2.table.get().is_none() && k3.table.get().is_none());
        assert!(std::mem::size_of::<P256Key>() < 700 && std::mem::size_of::<P384Key>() < 1000);
        assert!(k2.verify(&msg, &sig2.to_bytes()), "round {round}");
        assert!(k3.verify(&msg, &sig3.to_bytes()), "round {round}");
        assert!(k2.table.get().is_some() && k3.table.get().is_some());
        for (i, bytes) in [sig2.to_bytes().to_vec(), sig3.to_bytes().to_vec()].into_iter().enumerate() {
            let verify = |m: &[u8], s: &[u8]| if i == 1 { k3.verify(m, s) } else { k2.verify(m, s) };
            let mut bad = bytes.clone();
            let at = xorshift(&mut state) as usize % bad.len();
            bad[at] ^= 1 << (xorshift(&mut state) % 8);
            assert!(!verify(&msg, &bad), "round {round}: one bit flipped at {at}");
            let mut other = msg.clone();
            other.push(0);
            assert!(!verify(&other, &bytes), "round {round}: another message");
        }
    }
}

/// A key and signature whose R has x = n + delta (delta small), so r = delta: the key is
/// solved for, Q = r^-1 (s R - e G), with the curve crate's arithmetic; the crate's own
/// verifier must accept it, and so must ours, on the given curve.
macro_rules! check_r_is_x_less_n {
    ($krate:ident, $uint:ident, $digest:ident, $curve:expr, $bytes:expr) => {{
        use $krate::elliptic_curve::ops::Reduce;
        use $krate::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
        use $krate::{AffinePoint, EncodedPoint, ProjectivePoint, Scalar};
        let msg = b"header.payload";
        let n_be = be(&$curve.n.m);
        let (point, delta) = (1u8..200)
            .find_map(|d| {
                let mut x = [0u8; $bytes + 1];
                x[0] = 2;
                x[1..].copy_from_slice(&n_be);
                let (sum, carry) = x[$bytes].overflowing_add(d);
                (!carry).then_some(())?;
                x[$bytes] = sum;
                let ep = EncodedPoint::from_bytes(x).ok()?;
                Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&ep)).map(|p| (p, d))
            })
            .unwrap();
        let r = Scalar::from(u64::from(delta));
        let s = Scalar::from(0x1234_5678u64);
        let e = <Scalar as Reduce<$krate::$uint>>::reduce_bytes(&$digest::digest(msg));
        let q = (ProjectivePoint::from(point) * s - ProjectivePoint::GENERATOR * e) * r.invert().unwrap();
        let q = q.to_affine().to_encoded_point(false);
        let key = PublicKey::from_xy(&$curve, q.x().unwrap(), q.y().unwrap()).unwrap();
        let sig = [r.to_bytes().to_vec(), s.to_bytes().to_vec()].concat();
        // The curve crate agrees that it is valid.
        let vk = $krate::ecdsa::VerifyingKey::from_sec1_bytes(q.as_bytes()).unwrap();
        let parsed = $krate::ecdsa::Signature::from_slice(&sig).unwrap();
        use $krate::ecdsa::signature::Verifier;
        assert!(vk.verify(msg, &parsed).is_ok());
        assert!(key.verify(msg, &sig), "{}: r = x(R) - n", stringify!($krate));
        assert!(!key.verify(b"another", &sig));
    }};
}

/// A signature whose R has x >= n, so r = x - n: valid, and only found by the second
/// comparison (x(R) = r + n). No private key gives one by chance (p - n is about 2^-128
/// of p), so the key is solved for instead.
#[test]
fn accepts_a_signature_whose_r_is_the_x_of_r_less_n() {
    check_r_is_x_less_n!(p256, U256, Sha256, P256, 32);
    check_r_is_x_less_n!(p384, U384, Sha384, P384, 48);
}

fn check_inverse<const L: usize>(m: &Modulus<L>, state: &mut u64) {
    let mut cases: Vec<Limbs<L>> = vec![one(), sub_raw(&m.m, &one()).0, [0; L], m.m];
    let mut two = [0u32; L];
    two[0] = 2;
    cases.push(two);
    for _ in 0..2000 {
        let mut a: Limbs<L> = std::array::from_fn(|_| xorshift(state));
        if geq(&a, &m.m) {
            a = sub_raw(&a, &m.m).0;
        }
        cases.push(a);
    }
    for (i, a) in cases.into_iter().enumerate() {
        let got = m.inverse(&a);
        if is_zero(&a) || a == m.m {
            assert_eq!(got, None, "no inverse of {a:x?}");
            continue;
        }
        let inv = got.unwrap();
        assert!(!geq(&inv, &m.m), "reduced");
        // a * a^-1 == 1.
        assert_eq!(m.out_of_mont(&m.mul(&m.to_mont(&a), &m.to_mont(&inv))), one(), "{a:x?}");
        if i < 40 {
            assert_eq!(m.to_mont(&inv), m.invert(&m.to_mont(&a)), "the same as a^(m-2)");
        }
    }
}

#[test]
fn the_binary_inverse_is_the_inverse() {
    let mut state = 0xdead_beef_cafe_f00du64;
    check_inverse(&P256.n, &mut state);
    check_inverse(&P256.p, &mut state);
    check_inverse(&P384.n, &mut state);
    check_inverse(&P384.p, &mut state);
}
