fn hex(s: &str) -> Vec<u8> {
    (0..s.trim().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s.trim()[i..i + 2], 16).unwrap())
        .collect()
}
/// Verifies a token-shaped message signed by a fresh 2048-bit key (made by `run` with openssl),
/// refuses a tampered signature, then times 5,000 verifications.
fn main() {
    let n = hex(&std::fs::read_to_string("n.hex").unwrap());
    let sig = hex(&std::fs::read_to_string("sig.hex").unwrap());
    let msg = std::fs::read("msg.txt").unwrap();
    let e = [1u8, 0, 1];
    assert!(rsaprobe::verify(&n, &e, &msg, &sig), "verifies");
    let mut bad = sig.clone();
    bad[10] ^= 1;
    assert!(!rsaprobe::verify(&n, &e, &msg, &bad), "tampered refused");
    let rounds = 5000;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        assert!(rsaprobe::verify(std::hint::black_box(&n), &e, &msg, &sig));
    }
    println!(
        "{:.1} us per verification",
        start.elapsed().as_secs_f64() * 1e6 / rounds as f64
    );
}
