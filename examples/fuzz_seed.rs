//! Seeds for the `decode` and `identify` fuzz targets, cut from real captures: each frame
//! with its link-type pick, and each flow's first payloads in the layout
//! `edgewise::fuzzing::identify_prefixes` reads. Run by `fuzz/seed.sh`:
//!
//! ```text
//! cargo run --example fuzz_seed -- OUT_DIR CAPTURE...
//! ```
//! writes `OUT_DIR/decode/*` and `OUT_DIR/identify/*` (at most a few hundred of each per file).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use edgewise::decode::{self, Decoded, Transport};
use edgewise::fuzzing::{encode_prefixes, LINK_TYPES};
use edgewise::source::capture::Next;
use edgewise::source::input::{self, InputSpec};

const FRAMES_PER_FILE: usize = 200;
const PARTS_PER_FLOW: usize = 6;
const PART_BYTES: usize = 2048;

type Key = (u8, (IpAddr, u16), (IpAddr, u16));

#[derive(Default)]
struct Prefixes {
    stream: bool,
    orig: Vec<Vec<u8>>,
    resp: Vec<Vec<u8>>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((out, files)) = args.split_first() else {
        eprintln!("usage: fuzz_seed OUT_DIR CAPTURE...");
        std::process::exit(2);
    };
    let out = PathBuf::from(out);
    for dir in ["decode", "identify"] {
        std::fs::create_dir_all(out.join(dir)).expect("create the seed directories");
    }
    let (mut frames, mut flows) = (0, 0);
    for (n, file) in files.iter().enumerate() {
        let (f, w) = seed_one(Path::new(file), &out, n);
        frames += f;
        flows += w;
    }
    eprintln!("fuzz_seed: {frames} frames, {flows} flows");
}

fn seed_one(path: &Path, out: &Path, n: usize) -> (usize, usize) {
    let Ok(mut reader) = input::open(&InputSpec::File(path.to_path_buf()), |r| r) else {
        return (0, 0);
    };
    let mut frames = 0;
    let mut flows: HashMap<Key, Prefixes> = HashMap::new();
    let mut order = Vec::new();
    loop {
        let p = match reader.next_record() {
            Next::Packet(p) => p,
            Next::Problem { .. } => continue,
            Next::End | Next::Stop(_) => break,
        };
        if let Some(pick) = LINK_TYPES.iter().position(|&l| l == p.link_type) {
            if frames < FRAMES_PER_FILE {
                let mut seed = vec![pick as u8];
                seed.extend_from_slice(p.data);
                std::fs::write(out.join(format!("decode/{n}-{frames}")), seed)
                    .expect("write a seed");
                frames += 1;
            }
        }
        let Decoded::Ip(pkt) = decode::decode(p.link_type, p.data) else {
            continue;
        };
        let (stream, sp, dp, payload) = match pkt.transport {
            Transport::Tcp(t) => (true, t.src_port, t.dst_port, t.payload),
            Transport::Udp(u) => (false, u.src_port, u.dst_port, u.payload),
            _ => continue,
        };
        let (a, b) = ((pkt.src, sp), (pkt.dst, dp));
        let (key, from_first) = match flows.contains_key(&(pkt.protocol, b, a)) {
            true => ((pkt.protocol, b, a), false),
            false => ((pkt.protocol, a, b), true),
        };
        let e = flows.entry(key).or_insert_with(|| {
            order.push(key);
            Prefixes {
                stream,
                ..Prefixes::default()
            }
        });
        if payload.is_empty() {
            continue;
        }
        let side = if from_first { &mut e.orig } else { &mut e.resp };
        if side.len() < PARTS_PER_FLOW {
            side.push(payload[..payload.len().min(PART_BYTES)].to_vec());
        }
    }
    let mut written = 0;
    for key in order {
        let p = &flows[&key];
        if p.orig.is_empty() && p.resp.is_empty() {
            continue;
        }
        let orig: Vec<&[u8]> = p.orig.iter().map(Vec::as_slice).collect();
        let resp: Vec<&[u8]> = p.resp.iter().map(Vec::as_slice).collect();
        let seed = encode_prefixes(p.stream, key.0, (key.1 .1, key.2 .1), &orig, &resp);
        std::fs::write(out.join(format!("identify/{n}-{written}")), seed).expect("write a seed");
        written += 1;
    }
    (frames, written)
}
