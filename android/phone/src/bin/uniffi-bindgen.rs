//! The UniFFI bindings generator, built from this workspace so its version always matches the
//! `uniffi` the library was compiled with. Used in library mode by `android/test.sh`:
//! `uniffi-bindgen generate <libcdtg_phone.so> --language kotlin --out-dir <dir>`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
