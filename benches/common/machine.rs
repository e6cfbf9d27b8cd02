//! What the benchmarks ran on: numbers are compared within one machine only.

/// The CPU model (from `/proc/cpuinfo`, else the architecture) and its
/// core count.
pub fn cpu() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{model}, {cores} cores, {}", flags())
}

/// The CPU flags that decide which kernels and precisions are fast (AVX2,
/// AVX-512 and its VNNI, BF16 and FP16 parts, AMX), as `/proc/cpuinfo`
/// lists them.
pub fn flags() -> String {
    const WATCHED: [&str; 8] = [
        "avx2",
        "avx512f",
        "avx512_vnni",
        "avx512_bf16",
        "avx512_fp16",
        "amx_bf16",
        "amx_int8",
        "avx_vnni",
    ];
    let listed = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("flags"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        })
        .unwrap_or_default();
    let has: Vec<&str> = WATCHED
        .iter()
        .copied()
        .filter(|f| listed.iter().any(|l| l == f))
        .collect();
    let missing: Vec<&str> = WATCHED
        .iter()
        .copied()
        .filter(|f| !has.contains(f))
        .collect();
    format!(
        "flags: {} (not: {})",
        if has.is_empty() {
            "none of those watched".to_owned()
        } else {
            has.join(" ")
        },
        missing.join(" ")
    )
}
