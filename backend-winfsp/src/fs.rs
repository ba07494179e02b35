//! The WinFsp file system: `winfsp::filesystem::FileSystemContext` over [`crate::ops::Ops`].
//!
//! A shim: each callback converts winfsp-rs's types (whose constructors are private, so tests
//! cannot make them) to plain ones, makes one call into [`Ops`], and converts the answer. The
//! logic, and its tests, are in [`crate::ops`].
//!
//! One limit of winfsp-rs 0.13 shows here: its `GetSecurityByName` glue writes the descriptor
//! size back only on success, and WinFsp's DLL grows its 1 KiB buffer only on
//! `STATUS_BUFFER_OVERFLOW` *with* that size (`FspGetSecurityByName` in `security.c`, which
//! otherwise retries forever with the same size). So a descriptor over the buffer is refused
//! with `STATUS_INSUFFICIENT_RESOURCES` here; [`Ops::get_security_by_name`] says what should go
//! back ([`ByName::TooSmall`]).
#![forbid(unsafe_code)]

use std::ffi::c_void;
use std::sync::Arc;

use bindfs_core::View;
use winfsp::U16CStr;
use winfsp::filesystem::{
    DirMarker, FileInfo, FileSecurity, FileSystemContext, ModificationDescriptor, OpenFileInfo, VolumeInfo,
};

use crate::backing::WindowsBacking;
use crate::ops::{ByName, NtResult, OpenHandle, Opened, Ops, fill};
use crate::status::code;
use crate::sys;

/// What winfsp returns.
type FspResult<T> = winfsp::Result<T>;

fn fsp<T>(r: NtResult<T>) -> FspResult<T> {
    r.map_err(winfsp::FspError::NTSTATUS)
}

/// The file system WinFsp serves: a view over a Windows backing store.
#[derive(Debug)]
pub struct BindFs {
    ops: Ops,
}

impl BindFs {
    /// A file system serving `view`.
    pub fn new(view: Arc<View<WindowsBacking>>) -> bindfs_core::Result<BindFs> {
        Ok(BindFs { ops: Ops::new(view)? })
    }
}

/// Fills the answer of an open or a create; a normalized name longer than WinFsp's buffer is
/// not reported (WinFsp then keeps the name it was given).
fn answer(opened: Opened, out: &mut OpenFileInfo) -> OpenHandle {
    fill(out.as_mut(), &opened.info);
    if let Some(name) = opened.normalized_name {
        if name.len() * 2 <= usize::from(out.normalized_name_size()) {
            out.set_normalized_name(&name, None);
        }
    }
    opened.handle
}

impl FileSystemContext for BindFs {
    type FileContext = OpenHandle;

    fn get_security_by_name(
        &self,
        file_name: &U16CStr,
        security_descriptor: Option<&mut [c_void]>,
        reparse_point_resolver: impl FnOnce(&U16CStr) -> Option<FileSecurity>,
    ) -> FspResult<FileSecurity> {
        let buffer = security_descriptor.map(sys::byte_buffer);
        match fsp(self.ops.get_security_by_name(file_name.as_slice(), buffer))? {
            ByName::Found { attributes, descriptor_len } => {
                Ok(FileSecurity { reparse: false, sz_security_descriptor: descriptor_len as u64, attributes })
            }
            // See the module docs: the size cannot be handed back.
            ByName::TooSmall { .. } => fsp(Err(code::INSUFFICIENT_RESOURCES)),
            ByName::Unresolved { status } => {
                reparse_point_resolver(file_name).ok_or(winfsp::FspError::NTSTATUS(status))
            }
        }
    }

    fn open(
        &self,
        file_name: &U16CStr,
        create_options: u32,
        granted_access: u32,
        file_info: &mut OpenFileInfo,
    ) -> FspResult<OpenHandle> {
        let opened =
            fsp(self.ops.open(file_name.as_slice(), create_options, granted_access, sys::request_caller))?;
        Ok(answer(opened, file_info))
    }

    fn close(&self, _context: OpenHandle) {}

    fn create(
        &self,
        file_name: &U16CStr,
        create_options: u32,
        granted_access: u32,
        file_attributes: u32,
        security_descriptor: Option<&[c_void]>,
        _allocation_size: u64,
        _extra_buffer: Option<&[u8]>,
        _extra_buffer_is_reparse_point: bool,
        file_info: &mut OpenFileInfo,
    ) -> FspResult<OpenHandle> {
        let descriptor = security_descriptor.map(sys::bytes_of);
        let opened = fsp(self.ops.create(
            file_name.as_slice(),
            create_options,
            granted_access,
            file_attributes,
            descriptor.as_deref(),
            sys::request_caller,
        ))?;
        Ok(answer(opened, file_info))
    }

    fn cleanup(&self, context: &OpenHandle, file_name: Option<&U16CStr>, flags: u32) {
        self.ops.cleanup(context, file_name.map(U16CStr::as_slice), flags);
    }

    fn flush(&self, context: Option<&OpenHandle>, file_info: &mut FileInfo) -> FspResult<()> {
        if let Some(info) = fsp(self.ops.flush(context))? {
            fill(file_info, &info);
        }
        Ok(())
    }

    fn get_file_info(&self, context: &OpenHandle, file_info: &mut FileInfo) -> FspResult<()> {
        fill(file_info, &fsp(self.ops.get_file_info(context))?);
        Ok(())
    }

    fn get_security(
        &self,
        context: &OpenHandle,
        security_descriptor: Option<&mut [c_void]>,
    ) -> FspResult<u64> {
        let buffer = security_descriptor.map(sys::byte_buffer);
        Ok(fsp(self.ops.get_security(context, buffer))? as u64)
    }

    fn set_security(
        &self,
        context: &OpenHandle,
        security_information: u32,
        modification_descriptor: ModificationDescriptor,
    ) -> FspResult<()> {
        let descriptor = sys::modification_bytes(modification_descriptor);
        fsp(self.ops.set_security(context, security_information, &descriptor))
    }

    fn overwrite(
        &self,
        context: &OpenHandle,
        file_attributes: u32,
        replace_file_attributes: bool,
        _allocation_size: u64,
        _extra_buffer: Option<&[u8]>,
        file_info: &mut FileInfo,
    ) -> FspResult<()> {
        fill(file_info, &fsp(self.ops.overwrite(context, file_attributes, replace_file_attributes))?);
        Ok(())
    }

    fn read_directory(
        &self,
        context: &OpenHandle,
        pattern: Option<&U16CStr>,
        marker: DirMarker,
        buffer: &mut [u8],
    ) -> FspResult<u32> {
        fsp(self.ops.read_directory(context, pattern.map(U16CStr::as_slice), marker.inner(), buffer))
    }

    fn rename(
        &self,
        context: &OpenHandle,
        file_name: &U16CStr,
        new_file_name: &U16CStr,
        replace_if_exists: bool,
    ) -> FspResult<()> {
        fsp(self.ops.rename(context, file_name.as_slice(), new_file_name.as_slice(), replace_if_exists))
    }

    fn set_basic_info(
        &self,
        context: &OpenHandle,
        file_attributes: u32,
        creation_time: u64,
        last_access_time: u64,
        last_write_time: u64,
        _last_change_time: u64,
        file_info: &mut FileInfo,
    ) -> FspResult<()> {
        let info = fsp(self.ops.set_basic_info(
            context,
            file_attributes,
            creation_time,
            last_access_time,
            last_write_time,
        ))?;
        fill(file_info, &info);
        Ok(())
    }

    fn set_delete(&self, context: &OpenHandle, file_name: &U16CStr, delete_file: bool) -> FspResult<()> {
        fsp(self.ops.set_delete(context, file_name.as_slice(), delete_file))
    }

    fn set_file_size(
        &self,
        context: &OpenHandle,
        new_size: u64,
        set_allocation_size: bool,
        file_info: &mut FileInfo,
    ) -> FspResult<()> {
        fill(file_info, &fsp(self.ops.set_file_size(context, new_size, set_allocation_size))?);
        Ok(())
    }

    fn read(&self, context: &OpenHandle, buffer: &mut [u8], offset: u64) -> FspResult<u32> {
        fsp(self.ops.read(context, buffer, offset))
    }

    fn write(
        &self,
        context: &OpenHandle,
        buffer: &[u8],
        offset: u64,
        write_to_eof: bool,
        constrained_io: bool,
        file_info: &mut FileInfo,
    ) -> FspResult<u32> {
        let (n, info) = fsp(self.ops.write(context, buffer, offset, write_to_eof, constrained_io))?;
        fill(file_info, &info);
        Ok(n)
    }

    fn get_volume_info(&self, out_volume_info: &mut VolumeInfo) -> FspResult<()> {
        let (total, free) = fsp(self.ops.get_volume_info())?;
        out_volume_info.total_size = total;
        out_volume_info.free_size = free;
        out_volume_info.set_volume_label("bindfs");
        Ok(())
    }

    fn get_reparse_point(
        &self,
        context: &OpenHandle,
        _file_name: &U16CStr,
        buffer: &mut [u8],
    ) -> FspResult<u64> {
        Ok(fsp(self.ops.get_reparse_point(context, buffer))? as u64)
    }

    fn get_reparse_point_by_name(
        &self,
        file_name: &U16CStr,
        _is_directory: bool,
        buffer: &mut [u8],
    ) -> FspResult<u64> {
        Ok(fsp(self.ops.get_reparse_point_by_name(file_name.as_slice(), buffer))? as u64)
    }
}
