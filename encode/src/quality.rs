//! Picture-quality helpers shared by tests and the encoder bench: PSNR of 8-bit planes.

/// PSNR in dB between two equally sized planes (given with their strides); `f64::INFINITY` if equal.
pub fn psnr(a: &[u8], a_stride: usize, b: &[u8], b_stride: usize, width: usize, height: usize) -> f64 {
    let mut se = 0u64;
    for y in 0..height {
        let ra = &a[y * a_stride..y * a_stride + width];
        let rb = &b[y * b_stride..y * b_stride + width];
        se += ra.iter().zip(rb).map(|(&p, &q)| ((p as i32 - q as i32).pow(2)) as u64).sum::<u64>();
    }
    if se == 0 {
        return f64::INFINITY;
    }
    let mse = se as f64 / (width * height) as f64;
    10.0 * (255.0f64 * 255.0 / mse).log10()
}
