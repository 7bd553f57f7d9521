//! RSA public-key operation (s^e mod n) in Montgomery form with 32-bit limbs, for
//! verifying RS256/384/512 signatures fast in wasm (which multiplies 32x32->64 natively).
//! The general-purpose bigint behind the `rsa` crate spends most of a verification on
//! per-call setup; here everything that depends only on the key is computed once, when
//! the JWKS is parsed. PKCS#1 v1.5 verification compares the whole encoded message with
//! the one expected (RFC 8017 section 8.2.2), so nothing of the signature is parsed.

use super::limbs::mac;

/// A public key prepared for Montgomery arithmetic.
pub struct MontKey {
    /// The modulus, little-endian 32-bit limbs.
    n: Vec<u32>,
    /// -n^-1 mod 2^32.
    n0inv: u32,
    /// R^2 mod n, R = 2^(32 * limbs).
    r2: Vec<u32>,
    e: u32,
    /// Modulus length in bytes (k in RFC 8017).
    k: usize,
}

fn from_be(bytes: &[u8], limbs: usize) -> Option<Vec<u32>> {
    let bytes = {
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        bytes.get(first..)?
    };
    if bytes.len() > limbs * 4 {
        return None;
    }
    let mut out = vec![0u32; limbs];
    for (i, b) in bytes.iter().rev().enumerate() {
        *out.get_mut(i / 4)? |= u32::from(*b) << (8 * (i % 4));
    }
    Some(out)
}

fn to_be(limbs: &[u32], k: usize) -> Vec<u8> {
    let mut out = vec![0u8; k];
    for (i, slot) in out.iter_mut().rev().enumerate() {
        if let Some(l) = limbs.get(i / 4) {
            *slot = (l >> (8 * (i % 4))) as u8;
        }
    }
    out
}

/// a >= b. Both have the modulus' length (`zip` would silently truncate otherwise).
fn geq(a: &[u32], b: &[u32]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
}

/// a -= b, same length; returns the borrow.
fn sub_in_place(a: &mut [u32], b: &[u32]) -> u32 {
    debug_assert_eq!(a.len(), b.len());
    let mut borrow = 0u64;
    for (x, y) in a.iter_mut().zip(b) {
        let d = u64::from(*x).wrapping_sub(u64::from(*y)).wrapping_sub(borrow);
        *x = d as u32;
        borrow = (d >> 63) & 1;
    }
    borrow as u32
}

impl MontKey {
    /// `n` and `e` big-endian, as in a JWK. `None` for an even modulus or an even or
    /// oversized exponent (RSA public exponents are odd and small, usually 65537).
    pub fn new(n_be: &[u8], e_be: &[u8]) -> Option<MontKey> {
        let k = n_be.iter().skip_while(|b| **b == 0).count();
        // 1024 to 8192 bits: the caller refuses keys under 2048 bits; the bounds keep the
        // key setup (quadratic in the length) small and n > 1.
        if !(128..=1024).contains(&k) {
            return None;
        }
        let limbs = k.div_ceil(4);
        let n = from_be(n_be, limbs)?;
        let e = from_be(e_be, 1)?.first().copied()?;
        if limbs == 0 || n.first()? & 1 == 0 || e & 1 == 0 || e < 3 {
            return None;
        }
        let n0 = *n.first()?;
        let mut inv: u32 = 1;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(n0.wrapping_mul(inv)));
        }
        // R^2 mod n by doubling 1 modulo n, 2 * 32 * limbs times.
        let mut r2 = vec![0u32; limbs];
        *r2.first_mut()? = 1;
        for _ in 0..(64 * limbs) {
            let mut carry = 0u32;
            for l in r2.iter_mut() {
                let next = *l >> 31;
                *l = (*l << 1) | carry;
                carry = next;
            }
            if carry == 1 || geq(&r2, &n) {
                sub_in_place(&mut r2, &n);
            }
        }
        Some(MontKey { n, n0inv: inv.wrapping_neg(), r2, e, k })
    }

    pub fn len(&self) -> usize {
        self.k
    }

    /// The modulus' length in bits.
    pub fn bits(&self) -> usize {
        let top = self.n.last().copied().unwrap_or(0);
        (self.n.len().saturating_sub(1)) * 32 + (32 - top.leading_zeros() as usize)
    }

    pub fn is_empty(&self) -> bool {
        self.k == 0
    }

    /// a * b * R^-1 mod n (CIOS), for `a`, `b` of the modulus' length and below n.
    fn mul(&self, a: &[u32], b: &[u32]) -> Vec<u32> {
        let l = self.n.len();
        let n0 = self.n.first().copied().unwrap_or(1);
        let mut t = vec![0u32; l];
        let mut top = 0u32; // t[l]
        for bi in b {
            let c = mac(&mut t, a, *bi); // t += a * b[i]
            let s = u64::from(top) + c;
            top = s as u32;
            let top2 = (s >> 32) as u32; // t[l + 1]
                                         // t = (t + m * n) / 2^32
            let t0 = t.first().copied().unwrap_or(0);
            let m = t0.wrapping_mul(self.n0inv);
            let mut c = (u64::from(t0) + u64::from(m) * u64::from(n0)) >> 32;
            for j in 1..l {
                let s = u64::from(t.get(j).copied().unwrap_or(0))
                    + u64::from(m) * u64::from(self.n.get(j).copied().unwrap_or(0))
                    + c;
                if let Some(slot) = t.get_mut(j - 1) {
                    *slot = s as u32;
                }
                c = s >> 32;
            }
            let s = u64::from(top) + c;
            if let Some(slot) = t.last_mut() {
                *slot = s as u32;
            }
            top = top2.wrapping_add((s >> 32) as u32);
        }
        if top != 0 || geq(&t, &self.n) {
            sub_in_place(&mut t, &self.n);
        }
        t
    }

    /// a * a * R^-1 mod n: the square computed with each cross product once (half the
    /// multiplications of [`MontKey::mul`]), then reduced (REDC). An exponent of 65537 is
    /// 16 squarings and one multiplication, so this is most of a verification.
    fn sqr(&self, a: &[u32]) -> Vec<u32> {
        let l = self.n.len();
        let mut t = vec![0u32; 2 * l];
        // Cross products a[i] * a[j], i < j.
        for (i, ai) in a.iter().enumerate() {
            let mut c = 0u64;
            if let (Some(row), Some(rest)) = (t.get_mut(2 * i + 1..i + l), a.get(i + 1..)) {
                c = mac(row, rest, *ai);
            }
            if let Some(slot) = t.get_mut(i + l) {
                *slot = c as u32;
            }
        }
        // Doubled, plus the squares a[i]^2 on the diagonal.
        let mut shifted_out = 0u32;
        for x in t.iter_mut() {
            let next = *x >> 31;
            *x = (*x << 1) | shifted_out;
            shifted_out = next;
        }
        let mut c = 0u64;
        for (ai, pair) in a.iter().zip(t.chunks_exact_mut(2)) {
            let sq = u64::from(*ai) * u64::from(*ai);
            if let [lo, hi] = pair {
                let s = u64::from(*lo) + (sq & 0xffff_ffff) + c;
                *lo = s as u32;
                let s = u64::from(*hi) + (sq >> 32) + (s >> 32);
                *hi = s as u32;
                c = s >> 32;
            }
        }
        // REDC: one row of m * n per limb, the carries kept in `top`.
        let mut top = 0u64;
        for i in 0..l {
            let Some(window) = t.get_mut(i..=i + l) else { break };
            let m = window.first().copied().unwrap_or(0).wrapping_mul(self.n0inv);
            let c = mac(window, &self.n, m);
            if let Some(last) = window.last_mut() {
                let s = u64::from(*last) + c + top;
                *last = s as u32;
                top = s >> 32;
            }
        }
        let mut out = t.split_off(l);
        if top != 0 || geq(&out, &self.n) {
            sub_in_place(&mut out, &self.n);
        }
        out
    }

    /// s^e mod n as k big-endian bytes; `None` unless `sig` is exactly k bytes and < n.
    pub fn public_op(&self, sig: &[u8]) -> Option<Vec<u8>> {
        if sig.len() != self.k {
            return None;
        }
        let s = from_be(sig, self.n.len())?;
        if geq(&s, &self.n) {
            return None;
        }
        // Left to right over e's bits in Montgomery form (x R). e is odd, so the last step
        // is a multiplication by s: made with s itself rather than s R, it gives
        // s^(e-1) R * s * R^-1 = s^e, out of Montgomery form without another multiplication
        // by 1 (an eighteenth of a 65537 verification).
        let base = self.mul(&s, &self.r2);
        let mut acc = base.clone();
        let top = 31 - self.e.leading_zeros();
        for bit in (1..top).rev() {
            acc = self.sqr(&acc);
            if (self.e >> bit) & 1 == 1 {
                acc = self.mul(&acc, &base);
            }
        }
        acc = self.sqr(&acc);
        Some(to_be(&self.mul(&acc, &s), self.k))
    }
}

/// DigestInfo prefixes (RFC 8017 section 9.2, note 1).
const SHA256_PREFIX: [u8; 19] =
    [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];
const SHA384_PREFIX: [u8; 19] =
    [0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30];
const SHA512_PREFIX: [u8; 19] =
    [0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40];

/// Verifies an RSASSA-PKCS1-v1_5 signature over a digest of 32, 48 or 64 bytes.
pub fn verify_pkcs1v15(key: &MontKey, digest: &[u8], sig: &[u8]) -> bool {
    let prefix: &[u8] = match digest.len() {
        32 => &SHA256_PREFIX,
        48 => &SHA384_PREFIX,
        64 => &SHA512_PREFIX,
        _ => return false,
    };
    let t_len = prefix.len() + digest.len();
    if key.k < t_len + 11 {
        return false;
    }
    let mut expected = Vec::with_capacity(key.k);
    expected.extend_from_slice(&[0x00, 0x01]);
    expected.resize(key.k - t_len - 1, 0xff);
    expected.push(0x00);
    expected.extend_from_slice(prefix);
    expected.extend_from_slice(digest);
    // Everything compared is public (signature, digest, key): no need for constant time.
    key.public_op(sig).is_some_and(|em| em == expected)
}

/// Verifies an RSASSA-PSS signature (RFC 8017 section 8.1.2, EMSA-PSS-VERIFY of section
/// 9.1.2) with MGF1 and the same hash `D`, and a salt as long as the hash (RFC 7518
/// section 3.5, for PS256/384/512). Every value compared is public: no constant time.
pub fn verify_pss<D: sha2::Digest>(key: &MontKey, msg: &[u8], sig: &[u8]) -> bool {
    pss::<D>(key, msg, sig).unwrap_or(false)
}

fn pss<D: sha2::Digest>(key: &MontKey, msg: &[u8], sig: &[u8]) -> Option<bool> {
    let h_len = <D as sha2::Digest>::output_size();
    let s_len = h_len;
    let em_bits = key.bits().checked_sub(1)?;
    let em_len = em_bits.div_ceil(8);
    let m = key.public_op(sig)?;
    // The integer is < 2^emBits: a k-byte encoding whose extra leading byte is zero.
    let em = m.get(m.len().checked_sub(em_len)?..)?;
    if m.len() > em_len && m.first() != Some(&0) {
        return Some(false);
    }
    if em_len < h_len + s_len + 2 || em.last() != Some(&0xbc) {
        return Some(false);
    }
    let db_len = em_len - h_len - 1;
    let (masked_db, rest) = em.split_at(db_len);
    let h = rest.get(..h_len)?;
    let unused_bits = 8 * em_len - em_bits;
    let top_mask = 0xffu8.checked_shr(unused_bits as u32).unwrap_or(0);
    if masked_db.first()? & !top_mask != 0 {
        return Some(false);
    }
    // DB = maskedDB xor MGF1(H, dbLen)
    let mut db = masked_db.to_vec();
    let mut counter: u32 = 0;
    let mut at = 0;
    while at < db_len {
        let block = D::new().chain_update(h).chain_update(counter.to_be_bytes()).finalize();
        for (d, m) in db.iter_mut().skip(at).zip(block.iter()) {
            *d ^= m;
        }
        at += h_len;
        counter += 1;
    }
    *db.first_mut()? &= top_mask;
    let pad = db_len - s_len - 1;
    if db.get(..pad)?.iter().any(|b| *b != 0) || db.get(pad) != Some(&0x01) {
        return Some(false);
    }
    let salt = db.get(pad + 1..)?;
    let m_hash = D::digest(msg);
    let h2 = D::new().chain_update([0u8; 8]).chain_update(m_hash).chain_update(salt).finalize();
    Some(h2[..] == *h)
}

#[cfg(test)]
mod tests;
