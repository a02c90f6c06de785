// Package transfer holds what every Stowage driver needs to move bytes
// safely, public so that drivers outside this module use it too: a download
// file that appears whole or not at all ([CreateFile]), copying with a
// context, a pooled buffer and progress ([Copy]), MD5 while streaming
// ([NewHashingReader], [NewVerifyingReader]), the content type guessed from
// a name ([ContentType]) and metadata keys made uniform ([Metadata]).
package transfer
