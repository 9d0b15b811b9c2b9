// Identities of files (device, inode, size, mtime), to notice a change on
// disk without reading the files: a Kubernetes Secret update swaps a
// symlink, which stat() follows to a new inode.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include <fmt/format.h>

namespace infergate::tls {

inline std::string file_stamp(const std::vector<std::string>& files) {
    std::string out;
    for (const std::string& f : files) {
        if (f.empty()) continue;
        struct stat st {};
        if (::stat(f.c_str(), &st) != 0) {
            out += "missing;";
            continue;
        }
        out += fmt::format("{}:{}:{}:{}.{};", st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    }
    return out;
}

}  // namespace infergate::tls
