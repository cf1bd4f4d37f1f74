use napi_derive::napi;
#[napi]
pub fn x() -> u32 { 1 }
