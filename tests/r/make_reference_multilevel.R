# Reference values for metareview's multilevel / multivariate model (metareview.multilevel),
# computed with R metafor's rma.mv and vcalc, and clubSandwich's CR2 cluster-robust tests
# through metafor's robust(..., clubSandwich = TRUE).
#
# Run from the repository root:
#     Rscript tests/r/make_reference_multilevel.R
#
# Writes tests/fixtures/multilevel/<case>.json: the data the model was fitted to (so the
# Python tests need neither R nor metadat), the R call that made the numbers, and the
# results.  Numbers at full precision (jsonlite digits = NA); NA becomes null.
#
# The optimiser is tightened (optim's BFGS with reltol = 1e-15, falling back to nlminb with
# rel.tol = 1e-10 where BFGS fails) so that the values are the maximum of the (restricted)
# likelihood to about 1e-8, not where rma.mv's default stopping rule happens to stop (up to
# about 1e-6 short of it in the variance components).

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(clubSandwich)
  library(jsonlite)
})

OUT_DIR <- file.path("tests", "fixtures", "multilevel")
dir.create(OUT_DIR, recursive = TRUE, showWarnings = FALSE)
CTRL <- list(optimizer = "optim", optmethod = "BFGS", reltol = 1e-15)
FALLBACK <- list(rel.tol = 1e-10, iter.max = 1000, eval.max = 2000)

# rma.mv with the tight control, or the fallback where it does not converge
rma.mv <- function(...) {
  cl <- match.call()
  cl[[1]] <- quote(metafor::rma.mv)
  cl$control <- CTRL
  res <- try(eval(cl, parent.frame()), silent = TRUE)
  if (inherits(res, "try-error")) {
    cl$control <- FALLBACK
    res <- eval(cl, parent.frame())
  }
  res
}

META <- list(
  r_version = R.version.string,
  metafor_version = as.character(packageVersion("metafor")),
  metadat_version = as.character(packageVersion("metadat")),
  clubsandwich_version = as.character(packageVersion("clubSandwich")),
  jsonlite_version = as.character(packageVersion("jsonlite")),
  control = "list(optimizer = 'optim', optmethod = 'BFGS', reltol = 1e-15), else list(rel.tol = 1e-10, iter.max = 1000, eval.max = 2000)"
)

num <- function(x) as.numeric(x)

fit_values <- function(res) {
  fs <- fitstats(res)
  list(
    coef_names = rownames(res$beta),
    beta = num(res$beta), se = num(res$se), zval = num(res$zval), pval = num(res$pval),
    ci_lb = num(res$ci.lb), ci_ub = num(res$ci.ub), ddf = if (is.null(res$ddf)) NULL else num(res$ddf),
    sigma2 = num(res$sigma2), s_nlevels = num(res$s.nlevels), s_names = res$s.names,
    QE = num(res$QE), QEdf = res$k - res$p, QEp = num(res$QEp),
    QM = num(res$QM), QMdf = num(res$QMdf), QMp = num(res$QMp),
    logLik = num(fs[1]), deviance = num(fs[2]), AIC = num(fs[3]), BIC = num(fs[4]), AICc = num(fs[5]),
    vb = unname(as.matrix(res$vb)),
    pi = if (res$int.only) { pr <- predict(res); c(num(pr$pi.lb), num(pr$pi.ub)) } else NULL
  )
}

robust_values <- function(res, cluster) {
  rob <- robust(res, cluster = cluster, clubSandwich = TRUE)
  list(beta = num(rob$beta), se = num(rob$se), tval = num(rob$zval), df = num(rob$ddf),
       pval = num(rob$pval), ci_lb = num(rob$ci.lb), ci_ub = num(rob$ci.ub),
       vb = unname(as.matrix(rob$vb)),
       # omnibus test of the coefficients btt: clubSandwich's Wald_test(test = "HTZ") for several,
       # the squared t test for one
       QM = num(rob$QM), QMdf = num(rob$QMdf), QMp = num(rob$QMp))
}

# likelihood-ratio test of one variance component (fixed at 0), as anova(full, reduced)
lrt_values <- function(res, reduced) {
  a <- anova(res, reduced)
  list(LRT = num(a$LRT), pval = num(a$pval), ll_reduced = num(logLik(reduced)))
}

write_case <- function(name, call, data, res, extra = list()) {
  out <- c(list(meta = META, call = call, data = as.list(data)), list(fit = fit_values(res)), extra)
  write_json(out, file.path(OUT_DIR, paste0(name, ".json")), digits = NA, auto_unbox = TRUE,
             pretty = TRUE, na = "null", matrix = "rowmajor")
}

# ---------------------------------------------------------------------------
# Three-level model: schools within districts (Konstantopoulos 2011)
# ---------------------------------------------------------------------------
dk <- dat.konstantopoulos2011
kdata <- data.frame(district = dk$district, school = dk$school, year = dk$year, yi = dk$yi, vi = dk$vi)

res <- rma.mv(yi, vi, random = ~ 1 | district/school, data = dk, method = "REML")
r1 <- rma.mv(yi, vi, random = ~ 1 | district/school, data = dk, method = "REML", sigma2 = c(0, NA))
r2 <- rma.mv(yi, vi, random = ~ 1 | district/school, data = dk, method = "REML", sigma2 = c(NA, 0))
write_case("konstantopoulos_reml",
           "rma.mv(yi, vi, random = ~ 1 | district/school, data = dat.konstantopoulos2011, method = 'REML'); robust(res, cluster = district, clubSandwich = TRUE); anova(res, update(res, sigma2 = c(0, NA))) and c(NA, 0)",
           kdata, res, list(robust = robust_values(res, dk$district),
                            lrt = list(lrt_values(res, r1), lrt_values(res, r2))))

res <- rma.mv(yi, vi, random = ~ 1 | district/school, data = dk, method = "ML")
r1 <- rma.mv(yi, vi, random = ~ 1 | district/school, data = dk, method = "ML", sigma2 = c(0, NA))
r2 <- rma.mv(yi, vi, random = ~ 1 | district/school, data = dk, method = "ML", sigma2 = c(NA, 0))
write_case("konstantopoulos_ml",
           "rma.mv(yi, vi, random = ~ 1 | district/school, data = dat.konstantopoulos2011, method = 'ML'); robust(res, cluster = district, clubSandwich = TRUE); anova(res, update(res, sigma2 = c(0, NA))) and c(NA, 0)",
           kdata, res, list(robust = robust_values(res, dk$district),
                            lrt = list(lrt_values(res, r1), lrt_values(res, r2))))

res <- rma.mv(yi, vi, mods = ~ year, random = ~ 1 | district/school, data = dk, method = "REML")
write_case("konstantopoulos_year",
           "rma.mv(yi, vi, mods = ~ year, random = ~ 1 | district/school, data = dat.konstantopoulos2011); robust(res, cluster = district, clubSandwich = TRUE)",
           kdata, res, list(robust = robust_values(res, dk$district)))

res <- rma.mv(yi, vi, mods = ~ year, random = ~ 1 | district/school, data = dk, method = "REML", test = "t")
write_case("konstantopoulos_year_t",
           "rma.mv(yi, vi, mods = ~ year, random = ~ 1 | district/school, data = dat.konstantopoulos2011, test = 't')",
           kdata, res)

# ---------------------------------------------------------------------------
# Several effect sizes per study (Assink & Wibbelink 2016): nested random effects,
# a constant within-study correlation (vcalc), a categorical moderator
# ---------------------------------------------------------------------------
da <- dat.assink2016
adata <- data.frame(study = da$study, esid = da$esid, yi = da$yi, vi = da$vi, deltype = da$deltype,
                    year = da$year)

res <- rma.mv(yi, vi, random = ~ 1 | study/esid, data = da)
write_case("assink_reml", "rma.mv(yi, vi, random = ~ 1 | study/esid, data = dat.assink2016); robust(res, cluster = study, clubSandwich = TRUE)",
           adata, res, list(robust = robust_values(res, da$study)))

V <- vcalc(vi, cluster = study, obs = esid, data = da, rho = 0.6)
res <- rma.mv(yi, V, mods = ~ deltype, random = ~ 1 | study/esid, data = da)
write_case("assink_vcalc_deltype",
           "V <- vcalc(vi, cluster = study, obs = esid, data = dat.assink2016, rho = 0.6); rma.mv(yi, V, mods = ~ deltype, random = ~ 1 | study/esid, data = dat.assink2016); robust(res, cluster = study, clubSandwich = TRUE)",
           adata, res, list(rho = 0.6, robust = robust_values(res, da$study)))

res <- rma.mv(yi, V, mods = ~ deltype + year, random = ~ 1 | study/esid, data = da)
write_case("assink_vcalc_deltype_year",
           "V <- vcalc(vi, cluster = study, obs = esid, data = dat.assink2016, rho = 0.6); rma.mv(yi, V, mods = ~ deltype + year, random = ~ 1 | study/esid, data = dat.assink2016); robust(res, cluster = study, clubSandwich = TRUE)",
           adata, res, list(rho = 0.6, robust = robust_values(res, da$study)))

res <- rma.mv(yi, V, random = ~ 1 | study/esid, data = da, method = "ML")
write_case("assink_vcalc_ml",
           "V <- vcalc(vi, cluster = study, obs = esid, data = dat.assink2016, rho = 0.6); rma.mv(yi, V, random = ~ 1 | study/esid, data = dat.assink2016, method = 'ML')",
           adata, res, list(rho = 0.6))

# crossed random effects (study, and the type of delinquency across studies): M has no blocks
res <- rma.mv(yi, vi, random = list(~ 1 | study, ~ 1 | deltype), data = da)
write_case("assink_crossed", "rma.mv(yi, vi, random = list(~ 1 | study, ~ 1 | deltype), data = dat.assink2016)",
           adata, res)

# ---------------------------------------------------------------------------
# Multivariate model with known sampling covariances (Berkey et al. 1998)
# ---------------------------------------------------------------------------
db <- dat.berkey1998
Vb <- bldiag(lapply(split(db[, c("v1i", "v2i")], db$trial), as.matrix))
bdata <- data.frame(trial = db$trial, outcome = db$outcome, yi = num(db$yi), vi = num(db$vi))
res <- rma.mv(yi, Vb, mods = ~ outcome - 1, random = ~ 1 | trial/outcome, data = db)
write_case("berkey_known_v",
           "V <- bldiag(lapply(split(dat.berkey1998[, c('v1i', 'v2i')], dat.berkey1998$trial), as.matrix)); rma.mv(yi, V, mods = ~ outcome - 1, random = ~ 1 | trial/outcome, data = dat.berkey1998); robust(res, cluster = trial, clubSandwich = TRUE)",
           bdata, res, list(V = unname(Vb), robust = robust_values(res, db$trial)))

# degenerate: one estimate per cluster, so the two components have the same levels and only
# their sum is identified (metafor fits it without a warning and splits it between them)
dd <- data.frame(s = 1:5, e = 1, yi = c(0.1, 0.5, 0.3, 0.9, 0.2), vi = c(0.01, 0.02, 0.01, 0.02, 0.03))
res <- rma.mv(yi, vi, random = ~ 1 | s/e, data = dd)
write_case("one_per_cluster", "rma.mv(yi, vi, random = ~ 1 | s/e, data = dd) with one estimate per s", dd, res)

cat("wrote", length(list.files(OUT_DIR)), "fixtures to", OUT_DIR, "\n")
