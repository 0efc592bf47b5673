// SPDX-License-Identifier: GPL-2.0

//! Small generic helpers that know nothing of the family.

pub(crate) mod vec;
