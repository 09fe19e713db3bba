//! Recall by meaning: the memories' embeddings held in memory and searched exactly (cosine), in
//! parallel. SurrealDB keeps the vectors; its own HNSW index answered a top-10 over 100,000
//! memories in ~140 ms (seconds while it was still building), an exact scan here in a few ms —
//! and an exact scan never misses a vector stored a moment ago.

use std::sync::RwLock;
use std::time::Instant;

use rayon::prelude::*;

/// Rows per parallel task.
const CHUNK: usize = 4096;

struct Loaded {
    dim: usize,
    ids: Vec<String>,
    /// `ids.len() * dim` numbers, each vector scaled to length 1.
    data: Vec<f32>,
    at: Instant,
}

/// The vectors of every memory that has one; loaded from the store on first use.
#[derive(Default)]
pub(crate) struct Vectors {
    state: RwLock<Option<Loaded>>,
    /// Held while the store is read, so two recalls do not both load.
    pub(crate) loading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Vectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vectors")
    }
}

fn unit(v: &[f32]) -> Option<Vec<f32>> {
    let norm = dot(v, v).sqrt();
    (norm.is_finite() && norm > 0.0).then(|| v.iter().map(|x| x / norm).collect())
}

/// A dot product the compiler turns into SIMD (eight independent sums).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (a8, a_rest) = a.split_at(a.len() - a.len() % 8);
    let (b8, b_rest) = b.split_at(a8.len().min(b.len()));
    for (x, y) in a8.chunks_exact(8).zip(b8.chunks_exact(8)) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

impl Vectors {
    /// When the vectors were last loaded from the store (`None`: not yet).
    pub(crate) fn loaded_at(&self) -> Option<Instant> {
        self.read().as_ref().map(|l| l.at)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<Loaded>> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Option<Loaded>> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replaces everything with `rows` (vectors of another length than `dim` are left out).
    pub(crate) fn load(&self, dim: usize, rows: impl IntoIterator<Item = (String, Vec<f32>)>) {
        let mut ids = Vec::new();
        let mut data = Vec::new();
        for (id, v) in rows {
            if v.len() == dim
                && let Some(v) = unit(&v)
            {
                ids.push(id);
                data.extend_from_slice(&v);
            }
        }
        *self.write() = Some(Loaded {
            dim,
            ids,
            data,
            at: Instant::now(),
        });
    }

    /// Adds or replaces one memory's vector (nothing to do before the first load, which reads it).
    pub(crate) fn put(&self, id: &str, vector: &[f32]) {
        let mut state = self.write();
        let Some(loaded) = state.as_mut() else { return };
        let Some(v) = unit(vector).filter(|v| v.len() == loaded.dim) else {
            return;
        };
        match loaded.ids.iter().position(|i| i == id) {
            Some(row) => loaded.data[row * loaded.dim..(row + 1) * loaded.dim].copy_from_slice(&v),
            None => {
                loaded.ids.push(id.to_owned());
                loaded.data.extend_from_slice(&v);
            }
        }
    }

    /// Forgets one memory's vector.
    pub(crate) fn remove(&self, id: &str) {
        let mut state = self.write();
        let Some(loaded) = state.as_mut() else { return };
        if let Some(row) = loaded.ids.iter().position(|i| i == id) {
            let dim = loaded.dim;
            let last = loaded.ids.len() - 1;
            loaded.ids.swap_remove(row);
            if row != last {
                loaded
                    .data
                    .copy_within(last * dim..(last + 1) * dim, row * dim);
            }
            loaded.data.truncate(last * dim);
        }
    }

    /// The `k` nearest memories to `query` with their cosine distances, nearest first; `None`
    /// before the first load or when `query` has another length.
    pub(crate) fn nearest(&self, query: &[f32], k: usize) -> Option<Vec<(String, f32)>> {
        let state = self.read();
        let loaded = state.as_ref()?;
        if query.len() != loaded.dim {
            return None;
        }
        let q = unit(query)?;
        let dim = loaded.dim;
        let mut best: Vec<(f32, usize)> = loaded
            .data
            .par_chunks(CHUNK * dim)
            .enumerate()
            .flat_map_iter(|(c, block)| {
                let q = &q;
                block
                    .chunks_exact(dim)
                    .enumerate()
                    .map(move |(i, v)| (1.0 - dot(q, v), c * CHUNK + i))
            })
            .collect();
        if best.len() > k && k > 0 {
            best.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0));
        }
        best.truncate(k);
        best.sort_by(|a, b| a.0.total_cmp(&b.0));
        Some(
            best.into_iter()
                .map(|(d, row)| (loaded.ids[row].clone(), d))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[f32]) -> Vec<f32> {
        xs.to_vec()
    }

    #[test]
    fn nearest_is_exact_and_follows_changes() {
        let vectors = Vectors::default();
        assert!(vectors.nearest(&[1.0, 0.0, 0.0], 2).is_none(), "not loaded");
        vectors.put("early", &[1.0, 0.0, 0.0]);
        vectors.load(
            3,
            [
                ("x".to_owned(), v(&[2.0, 0.0, 0.0])),
                ("y".to_owned(), v(&[0.0, 1.0, 0.0])),
                ("xy".to_owned(), v(&[1.0, 1.0, 0.0])),
                ("short".to_owned(), v(&[1.0, 0.0])),
                ("zero".to_owned(), v(&[0.0, 0.0, 0.0])),
            ],
        );
        let near = vectors.nearest(&[1.0, 0.1, 0.0], 2).unwrap();
        assert_eq!(near[0].0, "x");
        assert_eq!(near[1].0, "xy");
        assert!(near[0].1 < near[1].1 && near[0].1 >= 0.0 && near[0].1 < 0.01);
        vectors.put("y", &[1.0, 0.1, 0.0]);
        assert_eq!(vectors.nearest(&[1.0, 0.1, 0.0], 1).unwrap()[0].0, "y");
        vectors.remove("y");
        vectors.remove("x");
        vectors.remove("missing");
        let all = vectors.nearest(&[1.0, 0.1, 0.0], 10).unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].0, "xy");
        assert!(vectors.nearest(&[1.0, 0.0], 1).is_none(), "wrong length");
    }

    #[test]
    fn many_vectors_across_chunks_match_a_plain_scan() {
        let dim = 19;
        let mut seed = 7u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 1000) as f32 / 500.0 - 1.0
        };
        let rows: Vec<(String, Vec<f32>)> = (0..10_000)
            .map(|i| (format!("m{i}"), (0..dim).map(|_| next()).collect()))
            .collect();
        let vectors = Vectors::default();
        vectors.load(dim, rows.clone());
        let query: Vec<f32> = (0..dim).map(|_| next()).collect();
        let got = vectors.nearest(&query, 5).unwrap();
        let q = unit(&query).unwrap();
        let mut plain: Vec<(f32, &str)> = rows
            .iter()
            .map(|(id, v)| {
                let u = unit(v).unwrap();
                (
                    1.0 - q.iter().zip(&u).map(|(a, b)| a * b).sum::<f32>(),
                    id.as_str(),
                )
            })
            .collect();
        plain.sort_by(|a, b| a.0.total_cmp(&b.0));
        let want: Vec<&str> = plain[..5].iter().map(|p| p.1).collect();
        let got_ids: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(got_ids, want);
    }
}
