//! The multiply-accumulate row under the RSA and ECDSA arithmetic (32-bit limbs, public
//! values only).

/// `t += a * b` over the limbs `t` and `a` share; the carry out of the last of them.
#[inline(always)]
pub(super) fn mac(t: &mut [u32], a: &[u32], b: u32) -> u64 {
    let b = u64::from(b);
    let mut c = 0u64;
    for (tj, aj) in t.iter_mut().zip(a) {
        let s = u64::from(*tj) + u64::from(*aj) * b + c;
        *tj = s as u32;
        c = s >> 32;
    }
    c
}
