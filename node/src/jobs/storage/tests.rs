//! The store on a temporary directory, and URL parsing for S3 (no server needed).

use super::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn local(dir: &Path, runtime: &tokio::runtime::Runtime) -> ObjectStorage {
    let url = format!("file://{}", dir.display());
    ObjectStorage::open(&url, runtime.handle().clone()).expect("open")
}

#[test]
fn s3_urls_parse_into_bucket_and_prefix() {
    assert_eq!(
        StoreLocation::parse("s3://mirage-data/cluster/a/").expect("parse"),
        StoreLocation::S3 {
            bucket: "mirage-data".into(),
            prefix: "cluster/a".into()
        }
    );
    assert_eq!(
        StoreLocation::parse("s3://bucket").expect("parse"),
        StoreLocation::S3 {
            bucket: "bucket".into(),
            prefix: String::new()
        }
    );
}

#[test]
fn an_s3_url_without_a_bucket_is_a_clear_error() {
    for url in ["s3://", "s3:///prefix"] {
        let error = StoreLocation::parse(url).expect_err(url).to_string();
        assert!(error.contains("names no bucket"), "{error}");
        assert!(error.contains(url), "{error}");
    }
}

#[test]
fn an_s3_store_opens_without_contacting_the_server() {
    let runtime = runtime();
    let storage =
        ObjectStorage::open("s3://bucket/prefix", runtime.handle().clone()).expect("open");
    assert_eq!(storage.url(), "s3://bucket/prefix");
}

#[test]
fn file_urls_name_a_directory() {
    assert_eq!(
        StoreLocation::parse("file:///var/mirage").expect("parse"),
        StoreLocation::Local(PathBuf::from("/var/mirage"))
    );
    assert_eq!(
        StoreLocation::parse("file://mirage-data/objects").expect("parse"),
        StoreLocation::Local(PathBuf::from("mirage-data/objects"))
    );
    let error = StoreLocation::parse("file://")
        .expect_err("empty")
        .to_string();
    assert!(error.contains("names no directory"), "{error}");
}

#[test]
fn other_schemes_are_refused_by_name() {
    let runtime = runtime();
    for url in ["ftp://host/x", "/plain/path", "gs://bucket"] {
        let error = ObjectStorage::open(url, runtime.handle().clone())
            .expect_err(url)
            .to_string();
        assert!(error.contains("unsupported scheme"), "{error}");
        assert!(error.contains(url), "{error}");
    }
}

#[test]
fn files_directories_and_bytes_round_trip() {
    let runtime = runtime();
    let root = tempfile::tempdir().expect("tempdir");
    let store_dir = root.path().join("store");
    let storage = local(&store_dir, &runtime);
    assert!(store_dir.is_dir(), "the store directory is created");

    storage
        .put_bytes("a/b.txt", b"hello".to_vec())
        .expect("put");
    assert_eq!(storage.get_bytes("a/b.txt").expect("get"), b"hello");
    assert!(storage.exists("a/b.txt").expect("exists"));
    assert!(!storage.exists("a/c.txt").expect("exists"));

    let source = root.path().join("source");
    std::fs::create_dir_all(source.join("sub")).expect("mkdir");
    std::fs::write(source.join("one.bin"), [1u8; 10]).expect("write");
    std::fs::write(source.join("sub/two.bin"), [2u8; 20]).expect("write");
    std::fs::write(source.join("state.json"), b"{}").expect("write");
    let uploaded = storage
        .upload_dir(&source, "dirs/x/", Some("state.json"))
        .expect("upload");
    assert_eq!(uploaded, 3);
    assert_eq!(
        storage.list("dirs/x").expect("list"),
        ["dirs/x/one.bin", "dirs/x/state.json", "dirs/x/sub/two.bin"]
    );
    let target = root.path().join("target");
    assert_eq!(storage.download_prefix("dirs/x/", &target).expect("dl"), 3);
    assert_eq!(
        std::fs::read(target.join("sub/two.bin")).expect("read"),
        [2u8; 20]
    );
    // A prefix is a folder, not a string prefix.
    storage.put_bytes("dirs/xy", b"no".to_vec()).expect("put");
    assert_eq!(storage.list("dirs/x").expect("list").len(), 3);
}

#[test]
fn large_files_move_in_parts() {
    let runtime = runtime();
    let root = tempfile::tempdir().expect("tempdir");
    let storage = local(&root.path().join("store"), &runtime);
    let big = root.path().join("big.bin");
    let content: Vec<u8> = (0..(SINGLE_REQUEST_BYTES as usize + PART_BYTES + 17))
        .map(|i| (i % 251) as u8)
        .collect();
    std::fs::write(&big, &content).expect("write");
    storage.put_file("big/file.bin", &big).expect("put");
    let back = root.path().join("back/big.bin");
    let size = storage.get_file("big/file.bin", &back).expect("get");
    assert_eq!(size, content.len() as u64);
    assert!(std::fs::read(&back).expect("read") == content);
}

#[test]
fn missing_keys_and_bad_keys_are_named() {
    let runtime = runtime();
    let root = tempfile::tempdir().expect("tempdir");
    let storage = local(&root.path().join("store"), &runtime);
    let error = storage
        .get_bytes("models/none/model.json")
        .expect_err("missing");
    assert!(matches!(error, StorageError::NotFound { .. }), "{error}");
    let text = error.to_string();
    assert!(text.contains("models/none/model.json"), "{text}");
    assert!(text.contains(storage.url()), "{text}");

    let error = storage
        .download_prefix("models/none", root.path())
        .expect_err("missing")
        .to_string();
    assert!(error.contains("models/none"), "{error}");

    let error = storage
        .get_file("missing.csv", &root.path().join("x.csv"))
        .expect_err("missing");
    assert!(matches!(error, StorageError::NotFound { .. }), "{error}");
    assert!(!root.path().join("x.csv").exists());

    for key in ["", "a/../b", "a//b"] {
        let error = storage.get_bytes(key).expect_err(key);
        assert!(matches!(error, StorageError::InvalidKey { .. }), "{error}");
    }
}

/// Another member's store, reached directly (the node reaches it through Flight).
struct Peer(ObjectStorage);

impl RemoteObjects for Peer {
    fn fetch(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        match self.0.get_bytes(key) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(StorageError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other.to_string()),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>, String> {
        let mut keys = self.0.list(prefix).map_err(|e| e.to_string())?;
        // A misbehaving peer's key outside the prefix is never pulled.
        keys.push("elsewhere/secret".into());
        Ok(keys)
    }
}

#[test]
fn a_node_without_a_shared_store_pulls_what_it_lacks_from_its_peers() {
    let runtime = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let theirs = local(&dir.path().join("a"), &runtime);
    theirs
        .put_bytes("models/m1/model.json", b"{\"kind\":1}".to_vec())
        .expect("put");
    theirs
        .put_bytes("models/m1/weights.bin", vec![7; 10])
        .expect("put");
    theirs
        .put_bytes("elsewhere/secret", b"no".to_vec())
        .expect("put");
    theirs
        .put_bytes("generations/g1/data.csv", b"a\n1\n".to_vec())
        .expect("put");
    let ours = local(&dir.path().join("b"), &runtime).with_remote(Arc::new(Peer(theirs.clone())));
    let alone = local(&dir.path().join("c"), &runtime);

    assert!(matches!(
        alone.get_bytes("generations/g1/data.csv"),
        Err(StorageError::NotFound { .. })
    ));
    assert_eq!(
        ours.get_bytes("generations/g1/data.csv").expect("pulled"),
        b"a\n1\n"
    );
    let copy = dir.path().join("m1");
    assert_eq!(ours.download_prefix("models/m1", &copy).expect("pulled"), 2);
    assert_eq!(
        std::fs::read(copy.join("weights.bin")).expect("file"),
        vec![7; 10]
    );
    // Kept here afterwards, and nothing outside the prefix came along.
    assert_eq!(
        ours.list("models").expect("list"),
        ["models/m1/model.json", "models/m1/weights.bin"]
    );
    assert!(
        !ours
            .list("elsewhere")
            .expect("list")
            .iter()
            .any(|k| k.contains("secret"))
    );
    assert!(!ours.exists("models/m2/model.json").expect("exists"));
    let file = dir.path().join("out.csv");
    assert!(matches!(
        ours.get_file("generations/g2/data.csv", &file),
        Err(StorageError::NotFound { .. })
    ));
}

#[test]
fn sizes_ranges_local_files_and_moves() {
    let dir = tempfile::tempdir().expect("dir");
    let runtime = runtime();
    let store = local(&dir.path().join("objects"), &runtime);
    assert_eq!(store.size("a/b.bin").expect("size"), None);
    store
        .put_bytes("a/b.bin", b"0123456789".to_vec())
        .expect("put");
    assert_eq!(store.size("a/b.bin").expect("size"), Some(10));
    assert_eq!(store.get_range("a/b.bin", 2..5).expect("range"), b"234");
    let file = store.local_file("a/b.bin").expect("a local store");
    assert_eq!(std::fs::read(&file).expect("read"), b"0123456789");
    let staged = dir.path().join("staged.bin");
    std::fs::write(&staged, b"moved").expect("write");
    store.put_file_moving("c/d.bin", &staged).expect("move");
    assert!(!staged.exists(), "the staged file is taken, not copied");
    assert_eq!(store.get_bytes("c/d.bin").expect("get"), b"moved");
}
