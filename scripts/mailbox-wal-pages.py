"""Replica of the mailbox store push transaction (schema of src/Mailbox/.../Storage/MailboxStore.cs): WAL bytes per
group of 50 pushes into 8 mailboxes, split by b-tree (dbstat). Usage: mailbox-wal-pages.py id|tag|none PAGE_SIZE FILL
(id = the 32-byte blob-id index of stores created before 2026-12-05, tag = the 8-byte tag index now)."""
# Replica of the mailbox store's push transaction: WAL pages per group of 50 pushes, split by b-tree.
import sqlite3, os, sys, struct, random, time, collections
variant=sys.argv[1]; page=int(sys.argv[2]); fill=int(sys.argv[3]); mailboxes=8
path='/tmp/mailbox-wal-pages.db'
for s in ('','-wal','-shm'):
    try: os.remove(path+s)
    except FileNotFoundError: pass
c=sqlite3.connect(path,isolation_level=None)
c.execute(f'PRAGMA page_size={page}'); c.execute('PRAGMA journal_mode=WAL'); c.execute('PRAGMA synchronous=1')
c.execute('PRAGMA wal_autocheckpoint=0')
c.executescript('''
CREATE TABLE meta (id INTEGER PRIMARY KEY, epoch INTEGER, mailboxes INTEGER, blobs INTEGER, bytes INTEGER);
CREATE TABLE mailboxes (id INTEGER PRIMARY KEY AUTOINCREMENT, mailbox_id BLOB NOT NULL UNIQUE, cap_hash BLOB NOT NULL, archive_key BLOB, next_cursor INTEGER NOT NULL, bytes INTEGER NOT NULL, blobs INTEGER NOT NULL, last_access INTEGER NOT NULL, trimmed INTEGER NOT NULL);
CREATE INDEX mailboxes_by_access ON mailboxes (last_access);
CREATE TABLE blobs (k INTEGER PRIMARY KEY, blob_id BLOB NOT NULL, data BLOB NOT NULL, expires INTEGER NOT NULL);
CREATE INDEX blobs_by_expiry ON blobs (expires) WHERE expires > 0;
''')
if variant=='id': c.execute('CREATE INDEX blobs_by_id ON blobs (blob_id)')
if variant=='tag': c.execute('CREATE INDEX blobs_by_tag ON blobs (substr(blob_id,1,8))')
c.execute('INSERT INTO meta VALUES (1,1,0,0,0)')
for m in range(1,mailboxes+1):
    c.execute('INSERT INTO mailboxes VALUES (?,?,?,NULL,0,0,0,0,0)',(m,os.urandom(32),os.urandom(32)))
cur=collections.Counter(); now=[1_700_000_000_000]
def push(n):
    c.execute('BEGIN IMMEDIATE')
    for i in range(n):
        m=random.randrange(1,mailboxes+1) if n>1 else 1
        bid=os.urandom(32)
        if variant=='id': c.execute('SELECT k FROM blobs WHERE blob_id=? AND k>? AND k<? LIMIT 1',(bid,m<<36,(m+1)<<36)).fetchone()
        if variant=='tag': c.execute('SELECT k FROM blobs WHERE substr(blob_id,1,8)=substr(?,1,8) AND blob_id=? AND k>? AND k<? LIMIT 1',(bid,bid,m<<36,(m+1)<<36)).fetchone()
        cur[m]+=1; now[0]+=1
        c.execute('INSERT INTO blobs VALUES (?,?,?,?)',((m<<36)|cur[m],bid,os.urandom(1024),now[0]+86400000))
        c.execute('UPDATE mailboxes SET next_cursor=?,bytes=bytes+1024,blobs=blobs+1,last_access=? WHERE id=?',(cur[m]+1,now[0],m))
    c.execute('UPDATE meta SET blobs=blobs+? WHERE id=1',(n,))
    c.execute('COMMIT')
for g in range(fill//500): push(500)
c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
names={}
for name,pageno in c.execute('SELECT name,pageno FROM dbstat'): names[pageno]=name
def walframes():
    with open(path+'-wal','rb') as f: d=f.read()
    fr=[]; off=32
    while off+24+page<=len(d):
        fr.append(struct.unpack('>I',d[off:off+4])[0]); off+=24+page
    return fr
groups=200; total=collections.Counter(); pagesper=[]
for g in range(groups):
    before=len(walframes()) if g==0 else None
    push(50)
fr=walframes()
for p in fr: total[names.get(p,'new page')]+=1
walbytes=os.path.getsize(path+'-wal')
print(f'{variant:4} page {page:5} fill {fill:6}: WAL {walbytes/groups/1024:7.1f} KiB/group of 50 = {walbytes/groups/50:6.0f} B/push; frames/group {len(fr)/groups:5.1f}; by tree:',
      ', '.join(f'{k} {v/groups:.1f}' for k,v in total.most_common()))
# distinct pages per group (what a checkpoint writes), by tree
c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
names={}
for name,pageno in c.execute('SELECT name,pageno FROM dbstat'): names[pageno]=name
push(50); fr=walframes(); d=collections.Counter(names.get(p,'new') for p in set(fr))
print('     distinct pages in one group:', dict(d))
