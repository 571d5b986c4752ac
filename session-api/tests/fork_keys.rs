//! Finding 8 of issue 12: after `fork()`, the parent and its children must not
//! generate the same next session keys (rule A1).
//!
//! `fork()` copies the whole address space, including a user-space generator's state
//! (a thread-local RNG seeded once), so a generator that is not the OS's draws the same
//! numbers in every copy. Forking is only safe while the process has a single thread,
//! so this test runs without the libtest harness (`harness = false` in Cargo.toml):
//! `main` is the only thread when it forks, and each child generates its keys, sends
//! them over a socket pair and exits. A `Command` that re-runs the binary would not
//! do: a fresh process seeds a fresh generator, so it cannot show the copied state.
//! Fails before the fix (every child drew the parent's next keys).

#[cfg(unix)]
fn main() {
    use std::collections::HashSet;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    use fork::{fork, waitpid, Fork};
    use session_api::{KeyGenerator, RandomKeys, SessionKey};

    const CHILDREN: usize = 4;
    const KEYS_EACH: usize = 3;

    fn next_keys() -> Vec<String> {
        (0..KEYS_EACH)
            .map(|_| RandomKeys.generate().as_str().to_owned())
            .collect()
    }

    // Draw before forking, so a lazily seeded generator is seeded in the parent and
    // its state is what the children inherit.
    let before = SessionKey::generate();
    let mut children = Vec::new();
    for _ in 0..CHILDREN {
        let (mut parent_end, mut child_end) = UnixStream::pair().expect("socket pair");
        match fork().expect("fork") {
            Fork::Child => {
                drop(parent_end);
                let keys = next_keys().join("\n");
                let ok = child_end.write_all(keys.as_bytes()).is_ok();
                std::process::exit(if ok { 0 } else { 1 });
            }
            Fork::Parent(pid) => {
                drop(child_end);
                let mut text = String::new();
                parent_end.read_to_string(&mut text).expect("child keys");
                let status = waitpid(pid).expect("waitpid");
                assert_eq!(status, 0, "child exited with status {status}");
                children.push(text.lines().map(str::to_owned).collect::<Vec<_>>());
            }
        }
    }
    let parent = next_keys();

    let mut seen = HashSet::new();
    seen.insert(before.as_str().to_owned());
    let mut repeated = 0;
    let mut total = 1;
    for key in parent.iter().chain(children.iter().flatten()) {
        assert!(SessionKey::parse(key).is_ok(), "malformed key from a child");
        total += 1;
        if !seen.insert(key.clone()) {
            repeated += 1;
        }
    }
    let same_as_parent = children.iter().filter(|keys| **keys == parent).count();
    println!(
        "fork_keys: {same_as_parent}/{CHILDREN} children drew the parent's next keys; \
         {repeated} of {total} keys repeated"
    );
    assert_eq!(total, 1 + KEYS_EACH * (CHILDREN + 1));
    assert_eq!(same_as_parent, 0, "children repeat the parent's keys");
    assert_eq!(repeated, 0, "keys repeated across fork()");
    println!("1 passed, 0 failed");
}

#[cfg(not(unix))]
fn main() {
    println!("fork_keys: no fork() on this platform");
}
