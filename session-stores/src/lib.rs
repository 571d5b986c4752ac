//! Session stores for `session-api`, one module per backend, each behind a feature.
//!
//! | feature | module | Django engine |
//! | --- | --- | --- |
//! | `memory` | [`memory`] | `django.core.cache.backends.locmem` + `cache` |

#[cfg(feature = "memory")]
pub mod memory;
