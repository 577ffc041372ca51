/* strata-tokenizer-unicode.c: where HF tokenizers' Unicode data differs from GLib's.
 *
 * Written by tools/reference/hf_unicode_tables.py (see its docstring); do not edit. HF's
 * normalizers and StripAccents use Unicode 9.0 tables and its Punctuation Unicode 8.0
 * tables; GLib 2.74 knows Unicode 15.0. For HF a character added since is unassigned:
 * it neither decomposes, nor reorders, nor composes; and a few characters changed category
 * since (U+1CF3 was a mark, U+166D punctuation). */
#include "strata-tokenizer-hf-private.h"

#include <string.h>

/* 488 characters in 84 ranges [start, end) */
static const guint32 norm_unknown[][2] = {
  { 0x007FD, 0x007FE }, { 0x00898, 0x008A0 }, { 0x008CA, 0x008D4 }, { 0x009FE, 0x009FF },
  { 0x00AFA, 0x00B00 }, { 0x00B55, 0x00B56 }, { 0x00C04, 0x00C05 }, { 0x00C3C, 0x00C3D },
  { 0x00CF3, 0x00CF4 }, { 0x00D00, 0x00D01 }, { 0x00D3B, 0x00D3D }, { 0x00D81, 0x00D82 },
  { 0x00EBA, 0x00EBB }, { 0x00ECE, 0x00ECF }, { 0x01715, 0x01716 }, { 0x0180F, 0x01810 },
  { 0x01ABF, 0x01ACF }, { 0x01CF7, 0x01CF8 }, { 0x01DF6, 0x01DFB }, { 0x032FF, 0x03300 },
  { 0x0A7F2, 0x0A7F5 }, { 0x0A82C, 0x0A82D }, { 0x0A8FF, 0x0A900 }, { 0x0AB69, 0x0AB6A },
  { 0x10781, 0x10786 }, { 0x10787, 0x107B1 }, { 0x107B2, 0x107BB }, { 0x10D24, 0x10D28 },
  { 0x10EAB, 0x10EAD }, { 0x10EFD, 0x10F00 }, { 0x10F46, 0x10F51 }, { 0x10F82, 0x10F86 },
  { 0x11070, 0x11071 }, { 0x11073, 0x11075 }, { 0x110C2, 0x110C3 }, { 0x11145, 0x11147 },
  { 0x111CE, 0x111D0 }, { 0x11241, 0x11242 }, { 0x1133B, 0x1133C }, { 0x1145E, 0x1145F },
  { 0x1182C, 0x1183B }, { 0x11930, 0x11936 }, { 0x11937, 0x11939 }, { 0x1193B, 0x1193F },
  { 0x11940, 0x11941 }, { 0x11942, 0x11944 }, { 0x119D1, 0x119D8 }, { 0x119DA, 0x119E1 },
  { 0x119E4, 0x119E5 }, { 0x11A01, 0x11A0B }, { 0x11A33, 0x11A3A }, { 0x11A3B, 0x11A3F },
  { 0x11A47, 0x11A48 }, { 0x11A51, 0x11A5C }, { 0x11A8A, 0x11A9A }, { 0x11D31, 0x11D37 },
  { 0x11D3A, 0x11D3B }, { 0x11D3C, 0x11D3E }, { 0x11D3F, 0x11D46 }, { 0x11D47, 0x11D48 },
  { 0x11D8A, 0x11D8F }, { 0x11D90, 0x11D92 }, { 0x11D93, 0x11D98 }, { 0x11EF3, 0x11EF7 },
  { 0x11F00, 0x11F02 }, { 0x11F03, 0x11F04 }, { 0x11F34, 0x11F3B }, { 0x11F3E, 0x11F43 },
  { 0x13440, 0x13441 }, { 0x13447, 0x13456 }, { 0x16F4F, 0x16F50 }, { 0x16F7F, 0x16F88 },
  { 0x16FE4, 0x16FE5 }, { 0x16FF0, 0x16FF2 }, { 0x1CF00, 0x1CF2E }, { 0x1CF30, 0x1CF47 },
  { 0x1E030, 0x1E06E }, { 0x1E08F, 0x1E090 }, { 0x1E130, 0x1E137 }, { 0x1E2AE, 0x1E2AF },
  { 0x1E2EC, 0x1E2F0 }, { 0x1E4EC, 0x1E4F0 }, { 0x1F16C, 0x1F16D }, { 0x1FBF0, 0x1FBFA },
};

/* 357 characters in 77 ranges [start, end) */
static const guint32 mark_differs[][2] = {
  { 0x007FD, 0x007FE }, { 0x00898, 0x008A0 }, { 0x008CA, 0x008D4 }, { 0x009FE, 0x009FF },
  { 0x00AFA, 0x00B00 }, { 0x00B55, 0x00B56 }, { 0x00C04, 0x00C05 }, { 0x00C3C, 0x00C3D },
  { 0x00CF3, 0x00CF4 }, { 0x00D00, 0x00D01 }, { 0x00D3B, 0x00D3D }, { 0x00D81, 0x00D82 },
  { 0x00EBA, 0x00EBB }, { 0x00ECE, 0x00ECF }, { 0x01715, 0x01716 }, { 0x0180F, 0x01810 },
  { 0x01ABF, 0x01ACF }, { 0x01CF2, 0x01CF4 }, { 0x01CF7, 0x01CF8 }, { 0x01DF6, 0x01DFB },
  { 0x0A82C, 0x0A82D }, { 0x0A8FF, 0x0A900 }, { 0x10D24, 0x10D28 }, { 0x10EAB, 0x10EAD },
  { 0x10EFD, 0x10F00 }, { 0x10F46, 0x10F51 }, { 0x10F82, 0x10F86 }, { 0x11070, 0x11071 },
  { 0x11073, 0x11075 }, { 0x110C2, 0x110C3 }, { 0x11145, 0x11147 }, { 0x111C9, 0x111CA },
  { 0x111CE, 0x111D0 }, { 0x11241, 0x11242 }, { 0x1133B, 0x1133C }, { 0x1145E, 0x1145F },
  { 0x1182C, 0x1183B }, { 0x11930, 0x11936 }, { 0x11937, 0x11939 }, { 0x1193B, 0x1193F },
  { 0x11940, 0x11941 }, { 0x11942, 0x11944 }, { 0x119D1, 0x119D8 }, { 0x119DA, 0x119E1 },
  { 0x119E4, 0x119E5 }, { 0x11A01, 0x11A0B }, { 0x11A33, 0x11A3A }, { 0x11A3B, 0x11A3F },
  { 0x11A47, 0x11A48 }, { 0x11A51, 0x11A5C }, { 0x11A8A, 0x11A9A }, { 0x11D31, 0x11D37 },
  { 0x11D3A, 0x11D3B }, { 0x11D3C, 0x11D3E }, { 0x11D3F, 0x11D46 }, { 0x11D47, 0x11D48 },
  { 0x11D8A, 0x11D8F }, { 0x11D90, 0x11D92 }, { 0x11D93, 0x11D98 }, { 0x11EF3, 0x11EF7 },
  { 0x11F00, 0x11F02 }, { 0x11F03, 0x11F04 }, { 0x11F34, 0x11F3B }, { 0x11F3E, 0x11F43 },
  { 0x13440, 0x13441 }, { 0x13447, 0x13456 }, { 0x16F4F, 0x16F50 }, { 0x16F7F, 0x16F88 },
  { 0x16FE4, 0x16FE5 }, { 0x16FF0, 0x16FF2 }, { 0x1CF00, 0x1CF2E }, { 0x1CF30, 0x1CF47 },
  { 0x1E08F, 0x1E090 }, { 0x1E130, 0x1E137 }, { 0x1E2AE, 0x1E2AF }, { 0x1E2EC, 0x1E2F0 },
  { 0x1E4EC, 0x1E4F0 },
};

/* 129 characters in 34 ranges [start, end) */
static const guint32 punct_differs[][2] = {
  { 0x0061D, 0x0061E }, { 0x009FD, 0x009FE }, { 0x00A76, 0x00A77 }, { 0x00C77, 0x00C78 },
  { 0x00C84, 0x00C85 }, { 0x0166D, 0x0166E }, { 0x01B7D, 0x01B7F }, { 0x02E43, 0x02E50 },
  { 0x02E52, 0x02E5E }, { 0x10EAD, 0x10EAE }, { 0x10F55, 0x10F5A }, { 0x10F86, 0x10F8A },
  { 0x111C9, 0x111CA }, { 0x1144B, 0x11450 }, { 0x1145A, 0x1145C }, { 0x1145D, 0x1145E },
  { 0x11660, 0x1166D }, { 0x116B9, 0x116BA }, { 0x1183B, 0x1183C }, { 0x11944, 0x11947 },
  { 0x119E2, 0x119E3 }, { 0x11A3F, 0x11A47 }, { 0x11A9A, 0x11A9D }, { 0x11A9E, 0x11AA3 },
  { 0x11B00, 0x11B0A }, { 0x11C41, 0x11C46 }, { 0x11C70, 0x11C72 }, { 0x11EF7, 0x11EF9 },
  { 0x11F43, 0x11F50 }, { 0x11FFF, 0x12000 }, { 0x12FF1, 0x12FF3 }, { 0x16E97, 0x16E9B },
  { 0x16FE2, 0x16FE3 }, { 0x1E95E, 0x1E960 },
};

/* 93 characters in 9 ranges [start, end) */
static const guint32 numeric_differs[][2] = {
  { 0x10D40, 0x10D4A }, { 0x116D0, 0x116E4 }, { 0x11BF0, 0x11BFA }, { 0x11DE0, 0x11DEA },
  { 0x16130, 0x1613A }, { 0x16D70, 0x16D7A }, { 0x16FF4, 0x16FF7 }, { 0x1CCF0, 0x1CCFA },
  { 0x1E5F1, 0x1E5FB },
};

/* 5055 characters in 32 ranges [start, end) */
static const guint32 word_differs[][2] = {
  { 0x00897, 0x00898 }, { 0x01C89, 0x01C8B }, { 0x0A7CB, 0x0A7CE }, { 0x0A7DA, 0x0A7DD },
  { 0x105C0, 0x105F4 }, { 0x10D40, 0x10D66 }, { 0x10D69, 0x10D6E }, { 0x10D6F, 0x10D86 },
  { 0x10EC2, 0x10EC5 }, { 0x10EFC, 0x10EFD }, { 0x11380, 0x1138A }, { 0x1138B, 0x1138C },
  { 0x1138E, 0x1138F }, { 0x11390, 0x113B6 }, { 0x113B7, 0x113C1 }, { 0x113C2, 0x113C3 },
  { 0x113C5, 0x113C6 }, { 0x113C7, 0x113CB }, { 0x113CC, 0x113D4 }, { 0x113E1, 0x113E3 },
  { 0x116D0, 0x116E4 }, { 0x11BC0, 0x11BE1 }, { 0x11BF0, 0x11BFA }, { 0x11F5A, 0x11F5B },
  { 0x13460, 0x143FB }, { 0x16100, 0x1613A }, { 0x16D40, 0x16D6D }, { 0x16D70, 0x16D7A },
  { 0x18CFF, 0x18D00 }, { 0x1CCF0, 0x1CCFA }, { 0x1E5D0, 0x1E5FB }, { 0x2EBF0, 0x2EE5E },
};

/* 55 characters HF lowercases otherwise than GLib */
static const struct {
  guint32 c;
  const char *lower;
} lower_differs[] = {
  { 0x01C89, "\xe1\xb2\x8a" },
  { 0x0A7CB, "\xc9\xa4" },
  { 0x0A7CC, "\xea\x9f\x8d" },
  { 0x0A7CE, "\xea\x9f\x8f" },
  { 0x0A7D2, "\xea\x9f\x93" },
  { 0x0A7D4, "\xea\x9f\x95" },
  { 0x0A7DA, "\xea\x9f\x9b" },
  { 0x0A7DC, "\xc6\x9b" },
  { 0x10D50, "\xf0\x90\xb5\xb0" },
  { 0x10D51, "\xf0\x90\xb5\xb1" },
  { 0x10D52, "\xf0\x90\xb5\xb2" },
  { 0x10D53, "\xf0\x90\xb5\xb3" },
  { 0x10D54, "\xf0\x90\xb5\xb4" },
  { 0x10D55, "\xf0\x90\xb5\xb5" },
  { 0x10D56, "\xf0\x90\xb5\xb6" },
  { 0x10D57, "\xf0\x90\xb5\xb7" },
  { 0x10D58, "\xf0\x90\xb5\xb8" },
  { 0x10D59, "\xf0\x90\xb5\xb9" },
  { 0x10D5A, "\xf0\x90\xb5\xba" },
  { 0x10D5B, "\xf0\x90\xb5\xbb" },
  { 0x10D5C, "\xf0\x90\xb5\xbc" },
  { 0x10D5D, "\xf0\x90\xb5\xbd" },
  { 0x10D5E, "\xf0\x90\xb5\xbe" },
  { 0x10D5F, "\xf0\x90\xb5\xbf" },
  { 0x10D60, "\xf0\x90\xb6\x80" },
  { 0x10D61, "\xf0\x90\xb6\x81" },
  { 0x10D62, "\xf0\x90\xb6\x82" },
  { 0x10D63, "\xf0\x90\xb6\x83" },
  { 0x10D64, "\xf0\x90\xb6\x84" },
  { 0x10D65, "\xf0\x90\xb6\x85" },
  { 0x16EA0, "\xf0\x96\xba\xbb" },
  { 0x16EA1, "\xf0\x96\xba\xbc" },
  { 0x16EA2, "\xf0\x96\xba\xbd" },
  { 0x16EA3, "\xf0\x96\xba\xbe" },
  { 0x16EA4, "\xf0\x96\xba\xbf" },
  { 0x16EA5, "\xf0\x96\xbb\x80" },
  { 0x16EA6, "\xf0\x96\xbb\x81" },
  { 0x16EA7, "\xf0\x96\xbb\x82" },
  { 0x16EA8, "\xf0\x96\xbb\x83" },
  { 0x16EA9, "\xf0\x96\xbb\x84" },
  { 0x16EAA, "\xf0\x96\xbb\x85" },
  { 0x16EAB, "\xf0\x96\xbb\x86" },
  { 0x16EAC, "\xf0\x96\xbb\x87" },
  { 0x16EAD, "\xf0\x96\xbb\x88" },
  { 0x16EAE, "\xf0\x96\xbb\x89" },
  { 0x16EAF, "\xf0\x96\xbb\x8a" },
  { 0x16EB0, "\xf0\x96\xbb\x8b" },
  { 0x16EB1, "\xf0\x96\xbb\x8c" },
  { 0x16EB2, "\xf0\x96\xbb\x8d" },
  { 0x16EB3, "\xf0\x96\xbb\x8e" },
  { 0x16EB4, "\xf0\x96\xbb\x8f" },
  { 0x16EB5, "\xf0\x96\xbb\x90" },
  { 0x16EB6, "\xf0\x96\xbb\x91" },
  { 0x16EB7, "\xf0\x96\xbb\x92" },
  { 0x16EB8, "\xf0\x96\xbb\x93" },
};

/* \\p{..} classes: what Oniguruma adds to PCRE2's, as class text */
static const struct {
  const char *name;
  const char *extra;
} onig_classes[] = {
  { "L", "\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}\\x{10D4A}-\\x{10D65}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{1123F}-\\x{11240}\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}\\x{113D3}\\x{11BC0}-\\x{11BE0}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}\\x{1342F}\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}\\x{16100}-\\x{1611D}\\x{16D40}-\\x{16D6C}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{2B739}\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}" },
  { "Lu", "\\x{1C89}\\x{A7CB}-\\x{A7CC}\\x{A7DA}\\x{A7DC}\\x{10D50}-\\x{10D65}" },
  { "Ll", "\\x{1C8A}\\x{A7CD}\\x{A7DB}\\x{10D70}-\\x{10D85}\\x{1DF25}-\\x{1DF2A}" },
  { "Lm", "\\x{10D4E}\\x{10D6F}\\x{16D40}-\\x{16D42}\\x{16D6B}-\\x{16D6C}\\x{1E030}-\\x{1E06D}\\x{1E4EB}" },
  { "Lo", "\\x{105C0}-\\x{105F3}\\x{10D4A}-\\x{10D4D}\\x{10D4F}\\x{10EC2}-\\x{10EC4}\\x{1123F}-\\x{11240}\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}\\x{113D3}\\x{11BC0}-\\x{11BE0}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}\\x{1342F}\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}\\x{16100}-\\x{1611D}\\x{16D43}-\\x{16D6A}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1E4D0}-\\x{1E4EA}\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{2B739}\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}" },
  { "M", "\\x{897}\\x{CF3}\\x{ECE}\\x{10D69}-\\x{10D6D}\\x{10EFC}-\\x{10EFF}\\x{11241}\\x{113B8}-\\x{113C0}\\x{113C2}\\x{113C5}\\x{113C7}-\\x{113CA}\\x{113CC}-\\x{113D0}\\x{113D2}\\x{113E1}-\\x{113E2}\\x{11F00}-\\x{11F01}\\x{11F03}\\x{11F34}-\\x{11F3A}\\x{11F3E}-\\x{11F42}\\x{11F5A}\\x{13440}\\x{13447}-\\x{13455}\\x{1611E}-\\x{1612F}\\x{1E08F}\\x{1E4EC}-\\x{1E4EF}\\x{1E5EE}-\\x{1E5EF}" },
  { "Mn", "\\x{897}\\x{ECE}\\x{10D69}-\\x{10D6D}\\x{10EFC}-\\x{10EFF}\\x{11241}\\x{113BB}-\\x{113C0}\\x{113CE}\\x{113D0}\\x{113D2}\\x{113E1}-\\x{113E2}\\x{11F00}-\\x{11F01}\\x{11F36}-\\x{11F3A}\\x{11F40}\\x{11F42}\\x{11F5A}\\x{13440}\\x{13447}-\\x{13455}\\x{1611E}-\\x{16129}\\x{1612D}-\\x{1612F}\\x{1E08F}\\x{1E4EC}-\\x{1E4EF}\\x{1E5EE}-\\x{1E5EF}" },
  { "Mc", "\\x{CF3}\\x{113B8}-\\x{113BA}\\x{113C2}\\x{113C5}\\x{113C7}-\\x{113CA}\\x{113CC}-\\x{113CD}\\x{113CF}\\x{1171E}\\x{11F03}\\x{11F34}-\\x{11F35}\\x{11F3E}-\\x{11F3F}\\x{11F41}\\x{1612A}-\\x{1612C}" },
  { "N", "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1D2C0}-\\x{1D2D3}\\x{1E4F0}-\\x{1E4F9}\\x{1E5F1}-\\x{1E5FA}" },
  { "Nd", "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1E4F0}-\\x{1E4F9}\\x{1E5F1}-\\x{1E5FA}" },
  { "No", "\\x{1D2C0}-\\x{1D2D3}" },
  { "P", "\\x{1B4E}-\\x{1B4F}\\x{1B7F}\\x{10D6E}\\x{113D4}-\\x{113D5}\\x{113D7}-\\x{113D8}\\x{11B00}-\\x{11B09}\\x{11BE1}\\x{11F43}-\\x{11F4F}\\x{16D6D}-\\x{16D6F}\\x{1E5FF}" },
  { "S", "\\x{2427}-\\x{2429}\\x{2FFC}-\\x{2FFF}\\x{31E4}-\\x{31E5}\\x{31EF}\\x{10D8E}-\\x{10D8F}\\x{1CC00}-\\x{1CCEF}\\x{1CD00}-\\x{1CEB3}\\x{1F6DC}\\x{1F774}-\\x{1F776}\\x{1F77B}-\\x{1F77F}\\x{1F7D9}\\x{1F8B2}-\\x{1F8BB}\\x{1F8C0}-\\x{1F8C1}\\x{1FA75}-\\x{1FA77}\\x{1FA87}-\\x{1FA89}\\x{1FA8F}\\x{1FAAD}-\\x{1FAAF}\\x{1FABB}-\\x{1FABF}\\x{1FAC6}\\x{1FACE}-\\x{1FACF}\\x{1FADA}-\\x{1FADC}\\x{1FADF}\\x{1FAE8}-\\x{1FAE9}\\x{1FAF7}-\\x{1FAF8}\\x{1FBCB}-\\x{1FBEF}" },
  { "w", "\\x{B2}-\\x{B3}\\x{B9}\\x{BC}-\\x{BE}\\x{897}\\x{CF3}\\x{ECE}\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}\\x{10D40}-\\x{10D65}\\x{10D69}-\\x{10D6D}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{10EFC}-\\x{10EFF}\\x{1123F}-\\x{11241}\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}-\\x{113C0}\\x{113C2}\\x{113C5}\\x{113C7}-\\x{113CA}\\x{113CC}-\\x{113D3}\\x{113E1}-\\x{113E2}\\x{116D0}-\\x{116E3}\\x{11BC0}-\\x{11BE0}\\x{11BF0}-\\x{11BF9}\\x{11F00}-\\x{11F10}\\x{11F12}-\\x{11F3A}\\x{11F3E}-\\x{11F42}\\x{11F50}-\\x{11F5A}\\x{1342F}\\x{13440}-\\x{13455}\\x{13460}-\\x{143FA}\\x{16100}-\\x{16139}\\x{16D40}-\\x{16D6C}\\x{16D70}-\\x{16D79}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1CCF0}-\\x{1CCF9}\\x{1DF25}-\\x{1DF2A}\\x{1E030}-\\x{1E06D}\\x{1E08F}\\x{1E4D0}-\\x{1E4F9}\\x{1E5D0}-\\x{1E5FA}\\x{2B739}\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}" },
  { "w-in-class", "\\x{897}\\x{CF3}\\x{ECE}\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}\\x{10D40}-\\x{10D65}\\x{10D69}-\\x{10D6D}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{10EFC}-\\x{10EFF}\\x{1123F}-\\x{11241}\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}-\\x{113C0}\\x{113C2}\\x{113C5}\\x{113C7}-\\x{113CA}\\x{113CC}-\\x{113D3}\\x{113E1}-\\x{113E2}\\x{116D0}-\\x{116E3}\\x{11BC0}-\\x{11BE0}\\x{11BF0}-\\x{11BF9}\\x{11F00}-\\x{11F10}\\x{11F12}-\\x{11F3A}\\x{11F3E}-\\x{11F42}\\x{11F50}-\\x{11F5A}\\x{1342F}\\x{13440}-\\x{13455}\\x{13460}-\\x{143FA}\\x{16100}-\\x{16139}\\x{16D40}-\\x{16D6C}\\x{16D70}-\\x{16D79}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1CCF0}-\\x{1CCF9}\\x{1DF25}-\\x{1DF2A}\\x{1E030}-\\x{1E06D}\\x{1E08F}\\x{1E4D0}-\\x{1E4F9}\\x{1E5D0}-\\x{1E5FA}\\x{2B739}\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}" },
};

static gboolean
in_ranges (const guint32 (*r)[2], gsize n, gunichar c)
{
  gsize lo = 0, hi = n;
  while (lo < hi) {
    gsize m = lo + (hi - lo) / 2;
    if (c < r[m][0])
      hi = m;
    else if (c >= r[m][1])
      lo = m + 1;
    else
      return TRUE;
  }
  return FALSE;
}

gboolean
_strata_hf_norm_unknown (gunichar c)
{
  return in_ranges (norm_unknown, G_N_ELEMENTS (norm_unknown), c);
}

gboolean
_strata_hf_is_mark (gunichar c)
{
  /* g_unichar_ismark answers a bit mask, not TRUE */
  return (g_unichar_ismark (c) != 0) != in_ranges (mark_differs, G_N_ELEMENTS (mark_differs), c);
}

gboolean
_strata_hf_punct_differs (gunichar c)
{
  return in_ranges (punct_differs, G_N_ELEMENTS (punct_differs), c);
}

gboolean
_strata_hf_numeric_differs (gunichar c)
{
  return in_ranges (numeric_differs, G_N_ELEMENTS (numeric_differs), c);
}

gboolean
_strata_hf_word_differs (gunichar c)
{
  return in_ranges (word_differs, G_N_ELEMENTS (word_differs), c);
}

const char *
_strata_hf_lower_differs (gunichar c)
{
  gsize lo = 0, hi = G_N_ELEMENTS (lower_differs);
  while (lo < hi) {
    gsize m = lo + (hi - lo) / 2;
    if (c < lower_differs[m].c)
      hi = m;
    else if (c > lower_differs[m].c)
      lo = m + 1;
    else
      return lower_differs[m].lower;
  }
  return NULL;
}

const char *
_strata_hf_onig_class (const char *name, gsize len)
{
  for (gsize i = 0; i < G_N_ELEMENTS (onig_classes); i++)
    if (strlen (onig_classes[i].name) == len && strncmp (onig_classes[i].name, name, len) == 0)
      return onig_classes[i].extra;
  return NULL;
}
