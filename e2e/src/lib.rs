//! Only tests live here (tests/it): end-to-end checks across services.
